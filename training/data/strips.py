"""Handwritten arithmetic queries: strips of five 28x28 cells (28x140), one symbol per cell.

Digits are MNIST images of the right class, operators are drawn by :mod:`training.data.glyphs`,
blanks are zeros. One argument, ``source``, decides everything that must not leak into evaluation:
"train" strips take MNIST train digits and train-family operators, "test" strips MNIST test digits
and test-family operators the model never saw. :class:`TrainingStrips` serves fresh strips as a
Dataset, each drawn from its own seeded generator.
"""

import argparse
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import torch
from PIL import Image, ImageFilter
from torch.utils.data import Dataset

from training.data import arithmetic as ar
from training.data import glyphs
from training.data.mnist import load_mnist
from training.data.strip_variants import VARIANTS, as_served, upload
from training.runtime import bounded

if TYPE_CHECKING:  # the image2text config, whose fields these read
    from training.tasks.image2text import Config

CELL = glyphs.SIZE
Source = Literal["train", "test"]

# Augmentation ranges, per cell (training only).
ROTATION = 12.0  # degrees, either way
ZOOM = (0.85, 1.15)
SHIFT = 2.0  # pixels, either way, in x and y
THICKNESS = (-0.6, 1.0)  # < 0 blends towards a 3x3 erosion (thinner), > 0 a 3x3 dilation (bolder)
CONTRAST = (0.6, 1.3)  # brightness factor, clipped at 255


@lru_cache(maxsize=4)
def mnist_by_class(source: Source, data_dir: Path | None) -> tuple[np.ndarray, list[np.ndarray]]:
    """MNIST images of ``source`` and, for each digit, the indices of its images."""
    images, labels = load_mnist(source, data_dir)
    return images, [np.flatnonzero(labels == d) for d in range(10)]


def distort(cell: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One cell rotated, zoomed, shifted, made bolder or thinner, and brightened or dimmed."""
    angle = np.deg2rad(rng.uniform(-ROTATION, ROTATION))
    zoom = rng.uniform(*ZOOM)
    sx, sy = CELL / 2 + rng.uniform(-SHIFT, SHIFT, 2)
    # Pillow maps each output pixel back: source = centre + R(-angle)(out - moved) / zoom
    a, b = np.cos(angle) / zoom, np.sin(angle) / zoom
    c, f = CELL / 2 - a * sx - b * sy, CELL / 2 + b * sx - a * sy
    image = Image.fromarray(cell).transform(
        (CELL, CELL), Image.Transform.AFFINE, (a, b, c, -b, a, f), Image.Resampling.BILINEAR
    )
    thickness = rng.uniform(*THICKNESS)
    kernel = ImageFilter.MaxFilter(3) if thickness > 0 else ImageFilter.MinFilter(3)
    image = Image.blend(image, image.filter(kernel), abs(thickness))
    bright = np.asarray(image, np.float32) * rng.uniform(*CONTRAST)
    return bright.clip(0, 255).round().astype(np.uint8)


def make_strips(
    queries: list[str],
    source: Source,
    rng: np.random.Generator,
    paddings: tuple[str, ...] = ("right", "left"),
    augment: bool = False,
    data_dir: Path | None = None,
) -> tuple[np.ndarray, list[str]]:
    """Strips ``uint8 [n, 28, 140]`` of ``queries`` and the texts they show, blank-padded to 5.

    Each strip's padding is drawn from ``paddings`` (see :func:`training.data.arithmetic.pad`), each
    digit from the MNIST ``source`` images of its class, each operator from the ``source`` family.
    ``augment`` distorts every non-blank cell (see :func:`distort`); meant for training strips.
    """
    sides = rng.integers(len(paddings), size=len(queries))
    texts = [ar.pad(q, ar.QUERY_LEN, paddings[i]) for q, i in zip(queries, sides, strict=True)]
    chars = np.array([list(t) for t in texts], dtype="<U1").reshape(len(texts), ar.QUERY_LEN)
    if not set(chars.flat) <= set(ar.SYMBOLS):
        raise ValueError(f"queries may only hold {ar.SYMBOLS!r} and be at most 5 long")
    cells = np.zeros((*chars.shape, CELL, CELL), np.uint8)
    images, by_class = mnist_by_class(source, data_dir)
    for digit in range(10):
        where = chars == str(digit)
        cells[where] = images[rng.choice(by_class[digit], size=int(where.sum()))]
    operators = (chars == "+") | (chars == "-")
    cells[operators] = glyphs.draw_many("".join(chars[operators]), rng, family=source)
    if augment:
        ink = chars != ar.BLANK
        cells[ink] = [distort(cell, rng) for cell in cells[ink]]
    return cells.transpose(0, 2, 1, 3).reshape(len(texts), CELL, ar.QUERY_LEN * CELL), texts


QUERY = re.compile(r"\d{1,2}[+-]\d{1,2}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("query", help="e.g. 81+24 (at most 5 symbols)")
    parser.add_argument("--out", type=Path, required=True, help="the PNG to write")
    parser.add_argument(
        "--source",
        choices=["test", "train"],
        default="test",
        help="MNIST test digits and held-out operators, or the training ones",
    )
    parser.add_argument("--padding", choices=["right", "left"], default="right")
    parser.add_argument(
        "--seed", type=bounded(0), default=0, help="picks the digit images and strokes"
    )
    parser.add_argument(
        "--variant",
        choices=VARIANTS,
        default="clean",
        help="as sent from a phone, a scanner, ... (see training/data/strip_variants.py); "
        "jpeg and photo write JPEG bytes whatever --out's suffix",
    )
    parser.add_argument(
        "--dark-on-light", action="store_true", help="same as --variant dark_on_light"
    )


def run(args: argparse.Namespace, command: str) -> None:
    """Draw the query as a handwritten strip PNG (to send to ``POST /solve/image``)."""
    if not QUERY.fullmatch(args.query):
        raise SystemExit(f"strip: {args.query!r} is not A+B or A-B with 0 <= A, B <= 99")
    rng = np.random.default_rng(args.seed)
    pixels, texts = make_strips([args.query], args.source, rng, (args.padding,))
    variant = "dark_on_light" if args.dark_on_light else args.variant
    args.out.write_bytes(upload(pixels[0], variant, rng))
    print(
        f"wrote {args.out}: {texts[0]!r} in handwriting ({args.source} digits and operators, "
        f"{variant})"
    )


@dataclass
class Strips:
    """Strips with their targets; pixels stay uint8 until a batch is taken."""

    pixels: torch.Tensor  # uint8 [n, 28, 140]
    symbols: torch.Tensor  # int64 [n, 5], the ids of ``texts``
    answers: torch.Tensor  # int64 [n, 3], blank-padded on the config's answer side
    texts: list[str]  # what each strip shows, blank-padded to 5

    def __len__(self) -> int:
        return len(self.texts)

    def __getitem__(self, at: slice) -> "Strips":
        return Strips(self.pixels[at], self.symbols[at], self.answers[at], self.texts[at])

    def batch(self, at: slice) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Model input ``float32 [b, 1, 28, 140]`` in 0..1, symbol ids, answer ids."""
        return pixels(self.pixels[at]), self.symbols[at], self.answers[at]


def concat(parts: list[Strips]) -> Strips:
    """One set of strips holding every part's, in order."""
    return Strips(
        *(
            torch.cat([getattr(p, name) for p in parts])
            for name in ("pixels", "symbols", "answers")
        ),
        [t for p in parts for t in p.texts],
    )


def pixels(strips: torch.Tensor | np.ndarray) -> torch.Tensor:
    """uint8 strips ``[n, 28, 140]`` as the models take them: ``float32 [n, 1, 28, 140]``, 0..1."""
    return torch.as_tensor(strips).unsqueeze(1).float() / 255


def draw(
    queries: list[str],
    source: Source,
    rng: np.random.Generator,
    paddings: tuple[str, ...],
    answer_padding: str,
    augment: bool = False,
) -> Strips:
    """Handwritten strips of ``queries`` (:func:`training.data.strips.make_strips`), targets."""
    images, texts = make_strips(queries, source, rng, paddings, augment)
    symbols = ar.encode(texts, ar.QUERY_LEN).argmax(-1)
    answers = ar.answer_ids([t.strip(ar.BLANK) for t in texts], answer_padding)
    return Strips(*(torch.from_numpy(a) for a in (images, symbols, answers)), texts)


class TrainingStrips(Dataset):
    """Fresh handwriting every epoch: sample ``i`` is training query ``i`` (modulo their number)
    drawn, with ``augment`` distorted, and sent as one of the config's ``variants`` (then read
    as the service reads uploads), by a generator seeded by (seed, epoch, i), so the strips do
    not depend on which process or DataLoader worker draws them."""

    def __init__(self, queries: list[str], n: int, config: "Config"):
        self.queries, self.n, self.config, self.epoch = queries, n, config, 0
        mnist_by_class("train", None)  # loaded once, before any worker starts

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        c = self.config
        rng = np.random.default_rng([c.seed, self.epoch, index])
        query = self.queries[index % len(self.queries)]
        strip = draw([query], "train", rng, c.paddings, c.answer_padding, c.augment)
        pixels = strip.pixels[0]
        if c.variants:
            variant = c.variants[rng.integers(len(c.variants))]
            pixels = torch.from_numpy(as_served(pixels[None].numpy(), variant, rng)[0])
        return pixels, strip.symbols[0], strip.answers[0]
