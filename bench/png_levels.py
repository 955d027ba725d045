"""PNG encoding time and size by zlib level and strategy, for the pictures the service sends most.

`python -m bench.png_levels`: a 16-image `/sample` grid and an 8-image interpolation strip drawn
by the shipped `gan`, and a 16-image grid of `gan-faces` (RGB), at scale 1 and 4, encoded at
Pillow's default level (6) and at levels 1 and 9 with zlib's default strategy, and at level 1 with
its Huffman-only and run-length strategies (Pillow's ``compress_type``), in this process, best of
several timed rounds.
"""

import io
import math
import timeit
from pathlib import Path

import numpy as np
from PIL import Image

from service.latents import from_seed
from service.png import tile
from service.registry import load_model, session_options

REPO = Path(__file__).resolve().parent.parent
STRATEGIES = {0: "default", 2: "huffman only", 3: "run-length"}  # zlib's Z_* numbers
SETTINGS = ((1, 0), (6, 0), (9, 0), (1, 2), (1, 3))  # (level, strategy)


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


def encode(image: Image.Image, level: int, strategy: int = 0) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=level, compress_type=strategy)
    return buffer.getvalue()


def milliseconds(image: Image.Image, level: int, strategy: int, number: int = 50) -> float:
    """Best of 5 rounds of ``number`` encodings, per encoding."""
    rounds = timeit.repeat(lambda: encode(image, level, strategy), number=number, repeat=5)
    return min(rounds) / number * 1e3


def main() -> None:
    print("| picture | scale | level | strategy | ms | bytes |\n|---|---:|---:|---|---:|---:|")
    for name, pixels in pictures().items():
        for scale in (1, 4):
            image = Image.fromarray(pixels)
            image = image.resize((image.width * scale, image.height * scale), Image.NEAREST)
            for level, strategy in SETTINGS:
                size = len(encode(image, level, strategy))
                ms = milliseconds(image, level, strategy)
                how = f"{level} | {STRATEGIES[strategy]}"
                print(f"| {name} | {scale} | {how} | {ms:.3f} | {size:,} |")


if __name__ == "__main__":
    main()
