"""Uploads to model input: decode, check, then a strip (gray, resized, strokes light on dark)
or a picture for a generative model (its central square at the model's size and channels).

Users send strips drawn many ways (a phone photo, a canvas export, a scan), so everything a model
needs is normalised here, and everything it cannot use is refused with a reason (an ImageError,
which the route turns into a 422) before any pixel is decoded where possible.
"""

import functools
import io
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

FORMATS = ("PNG", "JPEG")
MEDIA_TYPES = ("image/png", "image/jpeg")
_SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I")  # Pillow's modes for 16-bit grayscale PNGs
_MIN_CONTRAST = 0.1  # a strip whose strokes differ from its background by less is blank


class ImageError(ValueError):
    """An upload the service cannot read as the image it asked for; the message says why."""


@dataclass(frozen=True)
class StripShape:
    """What the model reads: ``cells`` square cells of ``cell`` pixels side by side."""

    cells: int
    cell: int
    aspect_tolerance: float = 0.05

    @classmethod
    def from_card(cls, card: dict[str, Any]) -> "StripShape":
        """The strip an image2text card describes; ValueError if the card does not add up."""
        try:
            cell, polarity = card["cell"], card["polarity"]
            shape = cls(cells=cell["cells"], cell=cell["height"])
            square = cell["width"] == cell["height"]
        except (KeyError, TypeError) as exc:
            raise ValueError(f"image card field missing or malformed: {exc}") from exc
        if not square or polarity != "light on dark":
            raise ValueError(f"cells must be square and light on dark, not {cell} {polarity!r}")
        return shape

    @property
    def size(self) -> tuple[int, int]:
        return self.cells * self.cell, self.cell

    def describe(self, max_side: int) -> str:
        width, height = self.size
        return (
            f"send a PNG or JPEG strip of {self.cells} cells, {width}x{height} pixels or any size "
            f"of aspect {self.cells}:1 (within {self.aspect_tolerance:.0%}), "
            f"at most {max_side} pixels a side"
        )


def read_strip(data: bytes, shape: StripShape, max_side: int) -> np.ndarray:
    """The strip as float32 ``[height, width]`` in 0..1, strokes light on a dark background."""
    image = open_image(data, max_side, shape.describe(max_side), shape)
    gray = to_gray(image)
    resized = np.asarray(Image.fromarray(gray, "F").resize(shape.size, Image.Resampling.BOX))
    return light_on_dark(resized)


def read_picture(data: bytes, size: int, channels: int, max_side: int) -> np.ndarray:
    """An upload as a generative model's training images were made: the central square, resized
    to ``size`` (LANCZOS), gray or RGB; float32 ``[channels, size, size]`` in 0..1."""
    allowed = (
        f"send a PNG or JPEG image of at most {max_side} pixels a side; its central square "
        f"is resized to {size}x{size}"
    )
    image = open_image(data, max_side, allowed)
    if channels == 1 or image.mode in _SIXTEEN_BIT:
        gray = np.round(to_gray(image) * 255).astype(np.uint8)
        image = Image.fromarray(gray, "L").convert("L" if channels == 1 else "RGB")
    else:
        image = on_paper(image).convert("RGB")
    width, height = image.size
    side = min(width, height)
    box = ((width - side) // 2, (height - side) // 2)
    square = image.crop((*box, box[0] + side, box[1] + side))
    pixels = np.asarray(square.resize((size, size), Image.Resampling.LANCZOS), np.float32) / 255
    return pixels[None] if channels == 1 else pixels.transpose(2, 0, 1)


def open_image(
    data: bytes, max_side: int, allowed: str, strip: StripShape | None = None
) -> Image.Image:
    """Decode ``data``, after checking from the header alone that its size (and, for a
    ``strip``, its aspect) is one we accept; ``allowed`` says what we accept."""
    if not data:
        raise ImageError(f"the image is empty (0 bytes); {allowed}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=FORMATS)
    except UnidentifiedImageError:
        raise ImageError(f"the body is not a PNG or JPEG image; {allowed}") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        limit = Image.MAX_IMAGE_PIXELS
        raise ImageError(f"the image declares over {limit} pixels; {allowed}") from None
    except (OSError, SyntaxError, ValueError) as exc:
        # A header Pillow cannot parse: cut short ("Truncated File Read") or a text/ICC chunk
        # that inflates past Pillow's limits. Pillow raises these from `open` itself.
        raise ImageError(f"the image header is corrupt or truncated ({exc}); {allowed}") from None
    width, height = image.size
    if max(width, height) > max_side or min(width, height) < 1:
        raise ImageError(f"the image is {width}x{height} pixels; {allowed}")
    ratio = width / height
    if strip is not None and abs(ratio / strip.cells - 1) > strip.aspect_tolerance:
        raise ImageError(f"the image is {width}x{height} pixels, aspect {ratio:.2f}:1; {allowed}")
    try:
        image.load()
    except (OSError, SyntaxError, ValueError) as exc:  # what Pillow raises for damaged files
        raise ImageError(f"the {image.format} image is corrupt or truncated ({exc})") from None
    return image


def to_gray(image: Image.Image) -> np.ndarray:
    """Luminance as float32 in 0..1. Transparent pixels count as white paper behind the strokes."""
    if image.mode in _SIXTEEN_BIT:  # Pillow's own conversion to "L" clips these instead of scaling
        return np.asarray(image, dtype=np.float32) / 65535
    return np.asarray(on_paper(image).convert("L"), dtype=np.float32) / 255


def on_paper(image: Image.Image) -> Image.Image:
    """``image`` composited over white if it has transparency, else unchanged."""
    if image.mode in ("LA", "PA", "RGBA") or "transparency" in image.info:
        paper = Image.new("RGBA", image.size, "white")
        return Image.alpha_composite(paper, image.convert("RGBA"))
    return image


def light_on_dark(gray: np.ndarray) -> np.ndarray:
    """Invert dark-on-light strips, take away uneven lighting, then stretch so the background is
    0 and the strongest stroke 1.

    The polarity is the median pixel's (strokes cover well under half of any strip). The light
    falling on a photographed page is estimated as the darkest pixel of each block a quarter of
    the strip's height across (no stroke fills one), smoothed back to full size, and taken away:
    on a clean strip that is zero.
    """
    if _median(gray) > 0.5:
        gray = 1 - gray
    gray = gray - _background(gray, max(1, gray.shape[0] // 4))
    np.clip(gray, 0, 1, out=gray)
    background, peak = float(_median(gray)), float(gray.max())
    if peak - background < _MIN_CONTRAST:
        return np.zeros_like(gray)
    gray -= background
    gray /= peak - background
    return np.clip(gray, 0, 1, out=gray)


def _median(values: np.ndarray) -> np.floating:
    """``np.median(values)``, the same number, at half its cost on a strip (no NaN handling)."""
    flat = values.ravel()
    middle = flat.size // 2
    if flat.size % 2:
        return np.partition(flat, middle)[middle]
    low, high = np.partition(flat, (middle - 1, middle))[middle - 1 : middle + 1]
    return (low + high) / 2


def _background(gray: np.ndarray, block: int) -> np.ndarray:
    """The darkest pixel of each ``block`` x ``block`` square (a strip holds whole ones),
    interpolated back to ``gray``'s size as Pillow's BILINEAR resize does it."""
    height, width = gray.shape
    rows, cols = height // block, width // block
    # Rows of blocks first, then columns: each a reduction over contiguous memory.
    darkest = gray[: rows * block, : cols * block].reshape(rows, block, cols * block).min(axis=1)
    darkest = darkest.reshape(rows, cols, block).min(axis=2)
    return _bilinear(rows, height).T @ darkest.astype(np.float32) @ _bilinear(cols, width)


@functools.lru_cache(maxsize=32)
def _bilinear(size: int, new_size: int) -> np.ndarray:
    """``[size, new_size]``: Pillow's BILINEAR resize of a line of ``size`` pixels to
    ``new_size``, as a matrix. The resize is linear and separable, so resizing an image is one
    product per axis: 5 us on a strip's background against 40 through Pillow (and back)."""
    identity = Image.fromarray(np.eye(size, dtype=np.float32), "F")
    return np.asarray(identity.resize((new_size, size), Image.Resampling.BILINEAR))
