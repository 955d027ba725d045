"""Hostile bodies for the corpus (tests/hostile_corpus.py): images whose headers lie, built here
with zlib, or by Pillow, so no binary is committed; oversized and deeply nested JSON.
"""

import io
import struct
import zlib

import numpy as np
from PIL import Image

from service.settings import Settings

LIMIT = Settings().max_body_bytes  # the same default settings as the `settings` fixture


def encoded(fmt: str, size: tuple[int, int] = (140, 28)) -> bytes:
    """A real grayscale image file of noise, so a decoder has something to chew on."""
    pixels = np.random.default_rng(0).integers(0, 256, (size[1], size[0]), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, "L").save(buffer, fmt)
    return buffer.getvalue()


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(width: int, height: int, depth: int = 8, rows: int = 1, extra: bytes = b"") -> bytes:
    """A hand-made grayscale PNG whose header says `width` x `height`, with `rows` rows of zero
    pixels actually compressed (a handful of KB however large the header says it is), and the
    chunks `extra` before them."""
    header = struct.pack(">IIBBBBB", width, height, depth, 0, 0, 0, 0)
    row = b"\x00" * (1 + (width * depth + 7) // 8)  # filter byte + packed pixels
    idat = zlib.compressobj(9)
    data = b"".join(idat.compress(row) for _ in range(rows)) + idat.flush()
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + extra
        + chunk(b"IDAT", data)
        + chunk(b"IEND", b"")
    )


def text_chunk(kind: bytes, inflated: int) -> bytes:
    """A zTXt or iCCP chunk that inflates to `inflated` zero bytes (a text decompression bomb)."""
    return chunk(kind, b"k\x00\x00" + zlib.compress(b"\x00" * inflated, 9))


MIB = 1024 * 1024
STRIP = encoded("PNG")  # a valid 140x28 strip (noise: it reads as something)
PNG_HEADER_ONLY = STRIP[:33]  # signature + IHDR, nothing after
PNG_CUT_IN_CHUNK = png(140, 28, extra=chunk(b"tEXt", b"k\x00" + b"v" * 100))[:60]
BOMB = png(30000, 30000, depth=1, rows=2000)  # 900 million pixels in about 4 KB
ZTXT_BOMB = png(140, 28, rows=28, extra=text_chunk(b"zTXt", 2 * MIB))
ICCP_BOMB = png(140, 28, rows=28, extra=text_chunk(b"iCCP", 2 * MIB))
# 70 text chunks of 1 MiB each (Pillow's limit per chunk) in 70 KB: over its 64 MiB in all.
TEXT_FLOOD = png(140, 28, rows=28, extra=text_chunk(b"zTXt", MIB - 8) * 70)


def queries_body(size: int) -> bytes:
    """`{"queries": ["1+1", ...]}` of exactly `size` bytes (padded with JSON whitespace): far more
    queries than a batch holds."""
    body = ('{"queries":[' + ",".join(['"1+1"'] * ((size - 20) // 6))).encode()
    return body + b" " * (size - len(body) - 2) + b"]}"


def nested(depth: int, open_: str, close: str) -> bytes:
    return (open_ * depth + "1" + close * depth).encode()
