"""A small CNN for 28x28 images, light on dark in 0..1: the glyph judge's network, and with 10
classes the feature network of the Fashion-MNIST domain FID."""

import torch
from torch import nn


def conv(inputs: int, outputs: int) -> list[nn.Module]:
    return [
        nn.Conv2d(inputs, outputs, 3, padding=1, bias=False),
        nn.BatchNorm2d(outputs),
        nn.ReLU(),
    ]


class SmallCNN(nn.Module):
    """Three 3x3 conv layers (28 -> 14 -> 7 after pooling), a dense layer, ``classes`` logits."""

    def __init__(self, width: int = 32, hidden: int = 128, dropout: float = 0.3, classes: int = 12):
        super().__init__()
        self.layers = nn.Sequential(
            *conv(1, width), *conv(width, width), nn.MaxPool2d(2),
            *conv(width, 2 * width), nn.MaxPool2d(2),
            nn.Flatten(), nn.Dropout(dropout),
            nn.Linear(2 * width * 7 * 7, hidden), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hidden, classes),
        )  # fmt: skip

    def forward(self, cells: torch.Tensor) -> torch.Tensor:
        """Images ``float32 [n, 1, 28, 28]`` in 0..1 -> logits ``[n, classes]``."""
        return self.layers(cells)

    def features(self, cells: torch.Tensor) -> torch.Tensor:
        """The ``hidden``-wide layer before the logits (what a Frechet distance compares)."""
        return self.layers[:-1](cells)
