"""Labelled single cells for the text-to-image task: digits, minus and blank, 28x28 uint8.

An answer (``-99..198``) is written with 12 symbols: ten digits, ``-`` and the blank of an unused
cell. Digits are MNIST images, minus signs are drawn by :mod:`training.data.glyphs`, blanks are
black with, for the judge, a little sensor-like noise so "blank" means "no stroke", not "exactly
zero". Here too: the datasets the judge and the writers train on.
"""

import numpy as np
import torch
from torch.utils.data import Dataset, TensorDataset

from training.data import arithmetic as ar
from training.data import glyphs
from training.data.mnist import load_mnist
from training.data.strips import CELL, Source, distort, make_strips

CELL_SYMBOLS = "0123456789- "
MINUS, BLANK = CELL_SYMBOLS.index("-"), CELL_SYMBOLS.index(" ")


def minus_cells(n: int, rng: np.random.Generator, families: tuple[str, ...]) -> np.ndarray:
    """``n`` minus glyphs, each drawn by a family picked at random from ``families``."""
    picks = rng.integers(len(families), size=n)
    out = np.zeros((n, glyphs.SIZE, glyphs.SIZE), np.uint8)
    for i, family in enumerate(families):
        where = np.flatnonzero(picks == i)
        out[where] = glyphs.draw_many("-" * len(where), rng, family)
    return out


def blank_cells(n: int, rng: np.random.Generator, noise: float) -> np.ndarray:
    """``n`` black cells with Gaussian noise of up to ``noise`` (0..255 scale), clipped at 0."""
    sigma = rng.uniform(0, noise, size=(n, 1, 1))
    pixels = np.abs(rng.normal(0, 1, (n, glyphs.SIZE, glyphs.SIZE))) * sigma
    return pixels.clip(0, 255).round().astype(np.uint8)


def labelled_cells(
    source: Source,
    rng: np.random.Generator,
    extra: int,
    minus_families: tuple[str, ...] = ("train", "test"),
    blank_noise: float = 6.0,
    shuffle: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Every MNIST ``source`` digit, then ``extra`` minus and ``extra`` blank cells (or shuffled).

    Returns ``uint8 [n, 28, 28]`` cells and ``int64 [n]`` labels indexing :data:`CELL_SYMBOLS`.
    """
    digits, labels = load_mnist(source)
    cells = np.concatenate(
        [digits, minus_cells(extra, rng, minus_families), blank_cells(extra, rng, blank_noise)]
    )
    targets = np.concatenate(
        [labels.astype(np.int64), np.full(extra, MINUS), np.full(extra, BLANK)]
    )
    if not shuffle:
        return cells, targets
    order = rng.permutation(len(cells))
    return cells[order], targets[order]


class CellSet(Dataset):
    """Labelled cells as samples: ``float32 [1, 28, 28]`` in 0..1 and the label.

    With ``distort_share``, that share of the cells is distorted afresh every epoch (see
    :func:`training.data.strips.distort`), each from a generator seeded by (seed, epoch, index):
    the same samples whichever process or DataLoader worker draws them.
    """

    def __init__(self, cells: np.ndarray, labels: np.ndarray, distort_share: float = 0.0,
                 seed: int = 0):  # fmt: skip
        self.cells, self.labels = cells, labels
        self.distort_share, self.seed, self.epoch = distort_share, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.cells)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        cell = self.cells[index]
        if self.distort_share:
            rng = np.random.default_rng([self.seed, self.epoch, index])
            if rng.random() < self.distort_share:
                cell = distort(cell, rng)
        return torch.from_numpy(cell[None] / np.float32(255)), int(self.labels[index])


def training_cells(seed: int, extra: int) -> TensorDataset:
    """What a cell decoder learns from: float32 cells ``[1, 28, 28]`` in 0..1 and their labels
    (MNIST train digits, ``extra`` train-family minus glyphs and ``extra`` black blanks)."""
    rng = np.random.default_rng(seed)
    cells, labels = labelled_cells("train", rng, extra, ("train",), blank_noise=0)
    pixels = torch.from_numpy(cells).unsqueeze(1).float() / 255
    return TensorDataset(pixels, torch.from_numpy(labels))


class AnswerHandwriting(Dataset):
    """The study's baseline data: a one-hot query and fresh handwriting of its answer each epoch
    (:func:`answer_targets`), drawn from a generator seeded by (seed, epoch, index)."""

    def __init__(self, queries: list[str], seed: int):
        self.queries, self.seed, self.epoch = queries, seed, 0
        self.x = torch.from_numpy(ar.encode(queries, ar.QUERY_LEN, "right"))

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.queries)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng([self.seed, self.epoch, index])
        return self.x[index], answer_targets([self.queries[index]], rng)[0]


def answer_targets(queries: list[str], rng: np.random.Generator) -> torch.Tensor:
    """Handwritten answers ``[n, 3, 28, 28]`` in 0..1, left-aligned: the baseline's pixel targets.

    Strips of the answers (MNIST train digits, train-family minus) cut to their first three cells.
    """
    strips, _ = make_strips([ar.answer(q) for q in queries], "train", rng, ("right",))
    cells = strips[:, :, : ar.ANSWER_LEN * CELL].reshape(len(queries), CELL, ar.ANSWER_LEN, CELL)
    return torch.from_numpy(cells.transpose(0, 2, 1, 3).copy()).float() / 255
