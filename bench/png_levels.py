"""PNG encoding time and size: the service's encoder against Pillow's, for the pictures the
service sends most.

`python -m bench.png_levels`: a 16-image `/sample` grid and an 8-image interpolation strip drawn
by the shipped `gan`, and a 16-image grid of `gan-faces` (RGB), at scale 1 and 4, encoded by
service/png.py (fixed row filters, ISA-L's deflate at level 2), by the same rows under zlib's
level 1 and run-length strategy (what service/png.py used before ISA-L), and by Pillow (adaptive
row filters) at its default level (6), at level 1, and at level 1 with zlib's run-length and
Huffman-only strategies (Pillow's ``compress_type``), in this process, best of several timed
rounds. Each service PNG is checked to decode to its pixels.
"""

import io
import math
import timeit
import zlib
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
from PIL import Image

from service.latents import from_seed
from service.png import encode, tile
from service.registry import load_model, session_options

REPO = Path(__file__).resolve().parent.parent
Encoder = Callable[[np.ndarray, int], bytes]


def pictures() -> dict[str, np.ndarray]:
    gan = load_model(REPO / "exported" / "gan", session_options(1))
    grid = gan.run({"z": from_seed(0, 16, gan.card["latent"])})[0]
    strip = gan.run({"z": from_seed(1, 8, gan.card["latent"])})[0]
    faces = load_model(REPO / "exported" / "gan-faces", session_options(1))
    colour = faces.run({"z": from_seed(0, 16, faces.card["latent"])})[0]
    drawn = {
        "sample n=16": tile(grid, math.ceil(math.sqrt(16))),
        "strip steps=8": tile(strip, 8),
        "faces n=16": tile(colour, 4),
    }
    return {k: np.round(v * 255).astype(np.uint8) for k, v in drawn.items()}


def pillow(level: int, strategy: int = zlib.Z_DEFAULT_STRATEGY) -> Encoder:
    """Pillow's encoder at a zlib level and strategy, enlarging as the service did with it."""

    def encode_with_pillow(pixels: np.ndarray, scale: int) -> bytes:
        image = Image.fromarray(pixels)
        image = image.resize((image.width * scale, image.height * scale), Image.Resampling.NEAREST)
        buffer = io.BytesIO()
        image.save(buffer, "PNG", compress_level=level, compress_type=strategy)
        return buffer.getvalue()

    return encode_with_pillow


def zlib_run_length(data: bytes) -> bytes:
    compressor = zlib.compressobj(level=1, strategy=zlib.Z_RLE)
    return compressor.compress(data) + compressor.flush()


ENCODERS: dict[str, Encoder] = {
    "service/png.py": encode,
    "service/png.py rows, zlib level 1, run-length": partial(encode, compress=zlib_run_length),
    "Pillow, level 6": pillow(6),
    "Pillow, level 1": pillow(1),
    "Pillow, level 1, run-length": pillow(1, zlib.Z_RLE),
    "Pillow, level 1, Huffman only": pillow(1, zlib.Z_HUFFMAN_ONLY),
}


def milliseconds(encoder: Encoder, pixels: np.ndarray, scale: int, number: int = 30) -> float:
    """Best of 5 rounds of ``number`` encodings, per encoding."""
    rounds = timeit.repeat(lambda: encoder(pixels, scale), number=number, repeat=5)
    return min(rounds) / number * 1e3


def main() -> None:
    print("| picture | scale | encoder | ms | bytes |\n|---|---:|---|---:|---:|")
    for name, pixels in pictures().items():
        for scale in (1, 4):
            decoded = np.asarray(Image.open(io.BytesIO(encode(pixels, scale))))
            assert np.array_equal(decoded, pixels.repeat(scale, 0).repeat(scale, 1)), name
            for label, encoder in ENCODERS.items():
                ms = milliseconds(encoder, pixels, scale)
                size = len(encoder(pixels, scale))
                print(f"| {name} | {scale} | {label} | {ms:.3f} | {size:,} |")


if __name__ == "__main__":
    main()
