"""Grading handwriting with the glyph judge (``reports/judge``, :mod:`training.tasks.judge`).

The judge's ONNX file runs in onnxruntime, as any shipped model: no writer ever trains against
it, so its verdicts are independent evidence. Next to its verdicts: how varied drawings are
(:func:`spread`) and whether drawn digits are copies of MNIST training images (:func:`copy_check`).
"""

from functools import lru_cache
from pathlib import Path

import numpy as np
import onnxruntime as ort

from training.data import arithmetic as ar
from training.data.cells import BLANK, CELL_SYMBOLS
from training.data.mnist import load_mnist
from training.runtime import REPO

JUDGE = REPO / "reports" / "judge" / "model.onnx"
CELL = 28


class GlyphJudge:
    """The judge's ONNX file, run with onnxruntime: cells in, judged symbol indices out."""

    def __init__(self, path: Path = JUDGE):
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing; build it with `python -m training judge`")
        self.session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])

    def __call__(self, cells: np.ndarray) -> np.ndarray:
        """Cells ``float32 [n, 28, 28]`` in 0..1 -> indices into CELL_SYMBOLS ``[n]``."""
        x = np.ascontiguousarray(cells, np.float32).reshape(-1, 1, CELL, CELL)
        return np.concatenate(
            [self.session.run(None, {"cells": x[i : i + 2000]})[0].argmax(-1)
             for i in range(0, len(x), 2000)]
        )  # fmt: skip


def cells_of(images: np.ndarray) -> np.ndarray:
    """Answer images ``[n, 28, 84]`` as cells ``[n, 3, 28, 28]``."""
    return images.reshape(len(images), CELL, ar.ANSWER_LEN, CELL).transpose(0, 2, 1, 3)


def answers_as_cells(queries: list[str]) -> np.ndarray:
    """The cell classes an answer is written with, left-aligned: ``[n, 3]``."""
    texts = [ar.answer(q).ljust(ar.ANSWER_LEN) for q in queries]
    return np.array([[CELL_SYMBOLS.index(c) for c in t] for t in texts])


def grade_renders(images: np.ndarray, queries: list[str], judge: GlyphJudge) -> dict[str, float]:
    """The judge's verdict on rendered answers ``[n, 28, 84]`` of ``queries``."""
    verdicts = judge(cells_of(images).reshape(-1, CELL, CELL)).reshape(len(images), ar.ANSWER_LEN)
    truth = answers_as_cells(queries)
    used = truth != BLANK
    right = verdicts == truth
    return {
        "character_accuracy": float(right[used].mean()),
        "answer_exact_match": float(right.all(axis=1).mean()),
        "unused_cells_blank": float(right[~used].mean()),
    }


def spread(cells: np.ndarray) -> float:
    """Mean pairwise Euclidean distance between cells ``[n, 28, 28]`` (pixels in 0..1)."""
    flat = cells.reshape(len(cells), -1).astype(np.float64)
    squared = (flat**2).sum(1)
    d = np.sqrt(np.maximum(squared[:, None] + squared[None] - 2 * flat @ flat.T, 0))
    return float(d[np.triu_indices(len(cells), k=1)].mean())


def nearest_train_distance(cells: np.ndarray, chunk: int = 500) -> np.ndarray:
    """Euclidean distance (pixels 0..1) from each cell to its nearest MNIST train image."""
    train = load_mnist("train")[0].reshape(60_000, -1).astype(np.float32) / 255
    norms = (train**2).sum(1)
    flat = cells.reshape(len(cells), -1).astype(np.float32)
    out = []
    for i in range(0, len(flat), chunk):
        part = flat[i : i + chunk]
        squared = (part**2).sum(1)[:, None] + norms[None] - 2 * part @ train.T
        out.append(np.sqrt(np.maximum(squared.min(1), 0)))
    return np.concatenate(out)


@lru_cache(maxsize=1)
def copy_threshold() -> float:
    """The smallest nearest-MNIST-train distance of any of the 10,000 MNIST test digits.

    No genuinely new handwriting lies closer to a training image than this, so a drawn digit that
    does would be a copy. (Computing it takes about half a minute: it is cached.)
    """
    test = load_mnist("test")[0].astype(np.float32) / 255
    return float(nearest_train_distance(test).min())


def copy_check(images: np.ndarray, queries: list[str]) -> dict[str, float]:
    """Nearest MNIST-train distance of the drawn digits, and the :func:`copy_threshold`."""
    truth = answers_as_cells(queries)
    digits = cells_of(images)[truth < 10]
    drawn = nearest_train_distance(digits)
    return {
        "copy_threshold": copy_threshold(),
        "nearest_train_distance_min": float(drawn.min()),
        "nearest_train_distance_median": float(np.median(drawn)),
        "digits_checked": len(digits),
    }
