"""Model outputs to PNG bytes: images tiled into a grid, pixels in 0..1 to 8-bit, enlarged by an
integer factor. Training draws its sample grids with the same :func:`tile`.

The PNG is written here rather than by Pillow, whose encoder tries every row filter on every row
(adaptive filtering, with no option to turn it off) and spent more time on that than on the model
behind a `/sample` grid. These pictures need no search: a gray model output compresses best
unfiltered, a colour one with the Sub filter (each byte less the one a pixel to its left), and a
row that repeats the one above, as every row of an enlargement but the first of each block does,
is all zeros under the Up filter. With zlib's fastest level and its run-length strategy, as
the service used Pillow before, this first encoded its six test pictures 1.2-3.4x faster, the files
between 3 % smaller and 10 % larger (`python -m bench.png_levels`, on a machine busy training).

The deflate stream is ISA-L's (python-isal), not zlib's: against zlib's level 1 and run-length
strategy on the same rows it encodes those pictures 1.6-3.9x faster (the `/sample` grid of 16 in
0.049 ms against 0.092, the 16 colour faces in 0.54 against 2.09), the files 3-6 % larger at
scale 1 and 18-57 % larger enlarged, where zlib's run-length coding of repeated pixels does
better (`python -m bench.png_levels`, 2026-12-06).

Encoding is deterministic (same pixels, same bytes), which the contract promises for every image
endpoint: a client may cache or compare PNGs by their bytes.
"""

import struct
import zlib
from collections.abc import Callable

import numpy as np
from isal import isal_zlib

MAX_SCALE = 8  # the largest enlargement a route takes
COMPRESS_LEVEL = 2  # ISA-L's 0-3; a change here, or to the filters, changes caching.ENCODING
SIGNATURE = b"\x89PNG\r\n\x1a\n"
NONE, SUB, UP = 0, 1, 2  # the PNG row filters used (the byte before each row says which)
GRAY, RGB = 0, 2  # the PNG colour types used, 8 bits a sample


def to_png(pixels: np.ndarray, scale: int = 1) -> bytes:
    """``[height, width]`` (gray) or ``[height, width, 3]`` (RGB) floats in 0..1 as a PNG.

    Each pixel becomes a ``scale`` x ``scale`` block (nearest neighbour keeps strokes crisp).
    """
    if pixels.ndim not in (2, 3):
        raise ValueError(f"expected [height, width] or [height, width, 3], got {pixels.shape}")
    return encode(np.round(np.clip(pixels, 0, 1) * 255).astype(np.uint8), scale)


def deflate(data: bytes) -> bytes:
    """The zlib stream of the image data: ISA-L's deflate at its default level, 2."""
    return isal_zlib.compress(data, COMPRESS_LEVEL)


def encode(
    image: np.ndarray, scale: int = 1, compress: Callable[[bytes], bytes] = deflate
) -> bytes:
    """uint8 ``[height, width]`` or ``[height, width, 3]`` as a PNG, ``scale`` times larger
    (``compress`` makes the zlib stream: the benchmark passes others)."""
    channels = 1 if image.ndim == 2 else image.shape[2]
    wide = np.repeat(image, scale, axis=1) if scale > 1 else image
    rows = wide.reshape(image.shape[0], -1)  # each first row of a block, as bytes
    height, row_bytes = image.shape[0] * scale, rows.shape[1]
    filtered = np.zeros((height, 1 + row_bytes), np.uint8)  # a filter byte, then the row's
    filtered[:, 0] = UP  # the repeats of a block's first row: zeros under Up
    firsts = filtered[::scale]
    if channels == 1:
        firsts[:, 0] = NONE
        firsts[:, 1:] = rows
    else:
        firsts[:, 0] = SUB
        firsts[:, 1 : 1 + channels] = rows[:, :channels]
        np.subtract(rows[:, channels:], rows[:, :-channels], out=firsts[:, 1 + channels :])
    data = compress(filtered.data)
    colour = GRAY if channels == 1 else RGB
    header = struct.pack(">IIBBBBB", row_bytes // channels, height, 8, colour, 0, 0, 0)
    return SIGNATURE + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def chunk(kind: bytes, data: bytes) -> bytes:
    """A PNG chunk: length, type, data, and the CRC-32 of type and data."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def tile(images: np.ndarray, columns: int) -> np.ndarray:
    """``[n, c, h, w]`` as one picture of ``columns`` per row, unused places black."""
    n, c, h, w = images.shape
    rows = -(-n // columns)
    padded = np.zeros((rows * columns, c, h, w), images.dtype)
    padded[:n] = images
    canvas = padded.reshape(rows, columns, c, h, w).transpose(0, 3, 1, 4, 2)
    canvas = canvas.reshape(rows * h, columns * w, c)
    return canvas[..., 0] if c == 1 else canvas
