"""What a generative run draws into its folder: sample grids and loss curves."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from service.png import tile  # noqa: E402


def grid(images: torch.Tensor) -> np.ndarray:
    """``[n, c, h, w]`` in 0..1 as one uint8 picture, ``ceil(sqrt(n))`` images a row."""
    pixels = (images.clamp(0, 1) * 255).round().byte().numpy()
    return tile(pixels, int(np.ceil(np.sqrt(len(images)))))


def plot_losses(history: list[dict], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(6, 4))
    for key in history[0]:
        if key.startswith("loss"):
            ax.plot([h["epoch"] for h in history], [h[key] for h in history], marker=".", label=key)
    ax.set(xlabel="epoch", ylabel="training loss (mean per batch)")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
