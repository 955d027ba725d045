"""Handwriting-like ``+`` and ``-`` glyphs, MNIST style: light strokes on black, 28x28 uint8.

MNIST has no operators, so they are drawn: each bar is a pen stroke (discs stamped along a bowed
path at 4x, then downsampled and blurred), centred in the 20x20 box MNIST digits sit in. Every
parameter is drawn from the ranges of a *family*. The held-out checks must use operator drawings the
model never saw, so the two families differ in how the pen moves, not just in seeds:

- ``train``: smooth strokes (a quadratic Bezier bow) of constant width.
- ``test``: shaky strokes (sideways tremor at a few vertices, i.e. a kinked polyline) whose width
  tapers as pen pressure fades; a wider pen and wider tilt, bend and crossing ranges.
"""

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SIZE = 28
SCALE = 4  # supersampling
BOX = 20  # MNIST digits are scaled into a 20x20 box, centred in the 28x28 cell


@dataclass(frozen=True)
class Family:
    """Ranges ``(low, high)`` a family draws from; lengths in pixels of the 28x28 cell."""

    width: tuple[float, float]  # pen width
    length: tuple[float, float]  # of the '-' and of each bar of the '+'
    rotation: tuple[float, float]  # whole glyph, degrees
    bend: tuple[float, float]  # sideways bow of a stroke, fraction of its length
    cross: float  # '+': how far off-centre the bars cross, fraction of their length
    slant: float  # '+': how far from perpendicular the bars are, degrees
    jitter: float  # offset of the glyph's centre from the cell's
    blur: tuple[float, float]  # Gaussian radius after downsampling
    gain: tuple[float, float]  # brightness factor; above 1 the stroke's core saturates, as in MNIST
    tremor: float  # sideways shake at the vertices, fraction of length (0: a smooth curve)
    taper: tuple[float, float]  # width at the stroke's end relative to its start (1: constant)


FAMILIES = {
    "train": Family(
        width=(1.8, 3.8),
        length=(10.0, 20.0),
        rotation=(-20.0, 20.0),
        bend=(-0.18, 0.18),
        cross=0.22,
        slant=15.0,
        jitter=2.0,
        blur=(0.3, 0.7),
        gain=(0.9, 1.4),
        tremor=0.0,
        taper=(1.0, 1.0),
    ),
    "test": Family(
        width=(2.4, 3.8),
        length=(10.0, 20.0),
        rotation=(-15.0, 15.0),
        bend=(-0.16, 0.16),
        cross=0.18,
        slant=12.0,
        jitter=2.0,
        blur=(0.4, 0.9),
        gain=(0.8, 1.4),
        tremor=0.035,
        taper=(0.5, 0.85),
    ),
}


def stroke(
    draw: ImageDraw.ImageDraw,
    start: np.ndarray,
    end: np.ndarray,
    width: float,
    family: Family,
    rng: np.random.Generator,
) -> None:
    """One pen stroke from ``start`` to ``end`` (cell pixels), drawn as discs at ``SCALE``."""
    t = np.linspace(0.0, 1.0, 48)[:, None]
    along, length = end - start, float(np.hypot(*(end - start)))
    side = np.array([-along[1], along[0]]) / max(length, 1e-6)
    bow = rng.uniform(*family.bend) * length * 4 * t * (1 - t)  # quadratic Bezier, peak at middle
    shake = np.interp(t[:, 0], np.linspace(0, 1, 4), rng.normal(0, family.tremor * length, 4))
    points = (start + t * along + (bow + shake[:, None]) * side) * SCALE
    radius = width / 2 * SCALE * np.interp(t[:, 0], [0, 1], [1.0, rng.uniform(*family.taper)])
    if rng.random() < 0.5:  # the pen may start at either end
        radius = radius[::-1]
    for (x, y), r in zip(points, radius, strict=True):
        draw.ellipse((x - r, y - r, x + r, y + r), fill=255)


def draw(symbol: str, rng: np.random.Generator, family: str = "train") -> np.ndarray:
    """A ``+`` or ``-`` as a 28x28 uint8 image, every parameter drawn from ``family``'s ranges."""
    style = FAMILIES[family]
    canvas = Image.new("L", (2 * SIZE * SCALE, 2 * SIZE * SCALE))  # room for any stroke
    pen = ImageDraw.Draw(canvas)
    width = rng.uniform(*style.width)
    turn = np.deg2rad(rng.uniform(*style.rotation))
    bars = [0.0] if symbol == "-" else [0.0, 90.0 + rng.uniform(-style.slant, style.slant)]
    cross = style.cross if symbol == "+" else 0.0
    for angle in bars:
        a = turn + np.deg2rad(angle)
        direction = np.array([np.cos(a), np.sin(a)])
        length = rng.uniform(*style.length)
        middle = SIZE + rng.uniform(-cross, cross) * length * direction  # lopsided arms
        stroke(
            pen, middle - length / 2 * direction, middle + length / 2 * direction, width, style, rng
        )
    # As MNIST does with digits: shrink into the 20x20 box if larger, place at the cell's centre.
    glyph = canvas.crop(canvas.getbbox())
    fit = min(1.0, BOX * SCALE / max(glyph.size))
    glyph = glyph.resize((max(1, round(glyph.width * fit)), max(1, round(glyph.height * fit))))
    cell = Image.new("L", (SIZE * SCALE, SIZE * SCALE))
    centre = (SIZE / 2 + rng.uniform(-style.jitter, style.jitter, 2)) * SCALE
    cell.paste(glyph, tuple(int(v) for v in np.round(centre - np.array(glyph.size) / 2)))
    small = cell.resize((SIZE, SIZE), Image.Resampling.BOX)
    small = small.filter(ImageFilter.GaussianBlur(rng.uniform(*style.blur)))
    bright = np.asarray(small, np.float32) * rng.uniform(*style.gain)
    return bright.clip(0, 255).round().astype(np.uint8)


def draw_many(symbols: str, rng: np.random.Generator, family: str = "train") -> np.ndarray:
    """Glyphs ``[len(symbols), 28, 28]`` for a string of ``+`` and ``-``."""
    if set(symbols) - {"+", "-"}:
        raise ValueError(f"only '+' and '-' are drawn, not {set(symbols) - {'+', '-'}}")
    if not symbols:
        return np.zeros((0, SIZE, SIZE), np.uint8)
    return np.stack([draw(s, rng, family) for s in symbols])
