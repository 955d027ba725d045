"""Uploads to model input (`service.images`): every accepted encoding gives the same strip."""

import io

import numpy as np
import pytest
from PIL import Image

from service.images import ImageError, StripShape, _background, _median, read_strip

SHAPE = StripShape(cells=5, cell=28)
MAX_SIDE = 2048


def strokes(seed: int = 0) -> np.ndarray:
    """A uint8 140x28 strip, light strokes on black: bright bars (one at 255) with soft edges."""
    rng = np.random.default_rng(seed)
    strip = np.zeros((28, 140), np.uint8)
    for _ in range(12):
        y, x = rng.integers(4, 22), rng.integers(2, 130)
        strip[y : y + 3, x : x + 8] = rng.integers(180, 256)
        strip[y + 3, x : x + 8] = 90
    strip[2, 2:10] = 255  # the full range, so stretching the contrast leaves the strip as it is
    return strip


def encode(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def read(data: bytes) -> np.ndarray:
    return read_strip(data, SHAPE, MAX_SIDE)


def paletted(strip: np.ndarray) -> Image.Image:
    return Image.fromarray(strip).convert("RGB").convert("P", palette=Image.Palette.ADAPTIVE)


def on_transparent(strip: np.ndarray) -> Image.Image:
    """Black ink whose opacity is the stroke, on fully transparent paper (a canvas export)."""
    ink = np.zeros((28, 140, 4), np.uint8)
    ink[..., 3] = strip
    return Image.fromarray(ink, "RGBA")


LOSSLESS = {
    "grayscale": lambda s: Image.fromarray(s),
    "dark on light": lambda s: Image.fromarray(255 - s),
    "RGB": lambda s: Image.fromarray(np.stack([s] * 3, -1)),
    "RGBA opaque": lambda s: Image.fromarray(np.stack([s] * 3 + [np.full_like(s, 255)], -1)),
    "RGBA ink on transparent": on_transparent,
    "gray with alpha": lambda s: Image.fromarray(255 - s).convert("LA"),
    "palette": paletted,
    "16-bit": lambda s: Image.fromarray(s.astype(np.uint16) * 257),
}


@pytest.mark.parametrize("variant", LOSSLESS)
def test_every_lossless_encoding_reads_as_the_original(variant: str) -> None:
    strip = strokes()
    got = read(encode(LOSSLESS[variant](strip)))
    assert got.shape == (28, 140) and got.dtype == np.float32
    assert np.abs(got - strip / 255).max() < 0.005, variant


def test_scaled_up_strips_are_resized_back() -> None:
    strip = strokes()
    big = Image.fromarray(strip).resize((420, 84), Image.Resampling.NEAREST)
    assert np.abs(read(encode(big)) - strip / 255).max() < 1e-5


def test_jpeg_is_close() -> None:
    strip = strokes()
    got = read(encode(Image.fromarray(255 - strip), "JPEG", quality=90))
    assert np.abs(got - strip / 255).mean() < 0.03


def test_faint_strokes_on_gray_paper_are_stretched() -> None:
    strip = strokes()
    photo = (150 - strip * (60 / 255)).astype(np.uint8)  # gray paper, strokes 60 levels darker
    got = read(encode(Image.fromarray(photo)))
    assert np.abs(got - strip / 255).max() < 0.05


def test_uneven_light_on_paper_is_taken_away() -> None:
    strip = strokes()
    light = np.linspace(1.0, 0.55, 140)[None, :]  # the right end of the page in shadow
    photo = ((230 - strip * (150 / 255)) * light).astype(np.uint8)
    got = read(encode(Image.fromarray(photo)))
    assert np.abs(got - strip / 255).mean() < 0.02
    assert got[strip == 0].max() < 0.1  # no haze left where the paper is darker


@pytest.mark.parametrize("shape", [(28, 140), (29, 146), (7, 36), (4, 20)])
def test_the_background_and_median_are_pillows_and_numpys(shape: tuple[int, int]) -> None:
    """The fast paths of `light_on_dark` compute what they replace: Pillow's BILINEAR resize of
    the block minima, and np.median."""
    gray = np.random.default_rng(shape[1]).random(shape, dtype=np.float32) ** 4
    height, width = shape
    block = max(1, height // 4)
    rows, cols = height // block, width // block
    minima = gray[: rows * block, : cols * block].reshape(rows, block, cols, block).min(axis=(1, 3))
    smooth = Image.fromarray(minima, "F").resize((width, height), Image.Resampling.BILINEAR)
    np.testing.assert_allclose(_background(gray, block), np.asarray(smooth), atol=1e-6)
    assert _median(gray) == np.median(gray) and _median(gray[:, :-1]) == np.median(gray[:, :-1])


def test_a_uniform_image_is_blank() -> None:
    assert not read(encode(Image.new("L", (140, 28), 200))).any()


@pytest.mark.parametrize("size", [(146, 28), (140, 29), (700, 140)])
def test_aspect_within_five_percent_is_accepted(size: tuple[int, int]) -> None:
    assert read(encode(Image.new("L", size))).shape == (28, 140)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"GIF89a not really", "not a PNG or JPEG"),
        (encode(Image.new("L", (140, 28)), "GIF"), "not a PNG or JPEG"),
        (encode(Image.fromarray(strokes()))[:150], "corrupt or truncated"),
        (encode(Image.new("L", (150, 28))), "aspect 5.36:1"),
        (encode(Image.new("L", (28, 140))), "aspect 0.20:1"),
        (encode(Image.new("L", (2100, 420))), "2100x420"),
    ],
    ids=["empty", "text", "gif", "truncated", "too wide", "upright", "too big"],
)
def test_bad_images_are_refused_with_the_reason(data: bytes, message: str) -> None:
    with pytest.raises(ImageError, match=message) as raised:
        read(data)
    assert "140x28" in str(raised.value) or "corrupt" in message


def test_card_fields_give_the_shape() -> None:
    card = {"cell": {"height": 28, "width": 28, "cells": 5}, "polarity": "light on dark"}
    assert StripShape.from_card(card).size == (140, 28)
    with pytest.raises(ValueError, match="light on dark"):
        StripShape.from_card({**card, "polarity": "dark on light"})
    with pytest.raises(ValueError, match="missing"):
        StripShape.from_card({"polarity": "light on dark"})
