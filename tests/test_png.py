"""service/png.py writes its own PNGs: they must decode, in any reader, to exactly the pixels."""

import io
import zlib

import numpy as np
import pytest
from PIL import Image

from service.png import NONE, SUB, UP, encode, tile, to_png


def filters(png: bytes, height: int) -> list[int]:
    """The row filter bytes of a PNG written in one IDAT chunk, as :func:`encode` writes."""
    length = int.from_bytes(png[33:37], "big")  # IDAT follows the signature (8) and IHDR (25)
    assert png[37:41] == b"IDAT"
    raw = zlib.decompress(png[41 : 41 + length])
    row = len(raw) // height
    return [raw[i * row] for i in range(height)]


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("scale", [1, 2, 5])
def test_decodes_to_the_pixels_enlarged(channels: int, scale: int) -> None:
    shape = (7, 11) if channels == 1 else (7, 11, 3)
    pixels = np.random.default_rng(scale).integers(0, 256, shape, dtype=np.uint8)
    pixels[0, :3] = (0, 255, 0) if channels == 1 else 255  # the extremes wrap under Sub
    png = encode(pixels, scale)
    decoded = Image.open(io.BytesIO(png))
    assert decoded.mode == ("L" if channels == 1 else "RGB")
    expected = pixels.repeat(scale, axis=0).repeat(scale, axis=1)
    np.testing.assert_array_equal(np.asarray(decoded), expected)
    first = NONE if channels == 1 else SUB
    assert filters(png, 7 * scale) == [first if i % scale == 0 else UP for i in range(7 * scale)]


def test_floats_are_rounded_and_clipped_and_bytes_repeat() -> None:
    pixels = np.array([[-0.5, 0.0, 0.5], [1.0, 1.5, 0.2]], np.float32)
    png = to_png(pixels)
    np.testing.assert_array_equal(
        np.asarray(Image.open(io.BytesIO(png))), [[0, 0, 128], [255, 255, 51]]
    )
    assert to_png(pixels) == png  # deterministic: caches compare PNGs by their bytes
    with pytest.raises(ValueError, match="expected"):
        to_png(np.zeros((1, 2, 3, 4)))


def test_a_tiled_grid_decodes_whole() -> None:
    images = np.random.default_rng(0).random((5, 3, 4, 6)).astype(np.float32)
    grid = tile(images, 3)
    decoded = np.asarray(Image.open(io.BytesIO(to_png(grid, 2))))
    assert decoded.shape == (2 * 4 * 2, 3 * 6 * 2, 3)
    np.testing.assert_array_equal(decoded[::2, ::2], np.round(grid * 255).astype(np.uint8))
    assert not decoded[4 * 2 :, 2 * 6 * 2 :].any()  # the sixth place is black
