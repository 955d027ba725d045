"""PNG encoding time and size by zlib level, for the pictures the service sends most.

`python -m bench.png_levels`: a 16-image `/sample` grid and an 8-image interpolation strip drawn
by the shipped `gan`, at scale 1 and 4, encoded at Pillow's default level (6) and at levels 1 and
9, in this process, best of several timed rounds.
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
LEVELS = (1, 6, 9)


def pictures() -> dict[str, np.ndarray]:
    gan = load_model(REPO / "exported" / "gan", session_options(1))
    grid = gan.run({"z": from_seed(0, 16, gan.card["latent"])})[0]
    strip = gan.run({"z": from_seed(1, 8, gan.card["latent"])})[0]
    drawn = {"sample n=16": tile(grid, math.ceil(math.sqrt(16))), "strip steps=8": tile(strip, 8)}
    return {k: np.round(v * 255).astype(np.uint8) for k, v in drawn.items()}


def encode(image: Image.Image, level: int) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=level)
    return buffer.getvalue()


def milliseconds(image: Image.Image, level: int, number: int = 50) -> float:
    """Best of 5 rounds of ``number`` encodings, per encoding."""
    return min(timeit.repeat(lambda: encode(image, level), number=number, repeat=5)) / number * 1e3


def main() -> None:
    print("| picture | scale | level | ms | bytes |\n|---|---:|---:|---:|---:|")
    for name, pixels in pictures().items():
        for scale in (1, 4):
            image = Image.fromarray(pixels)
            image = image.resize((image.width * scale, image.height * scale), Image.NEAREST)
            for level in LEVELS:
                size, ms = len(encode(image, level)), milliseconds(image, level)
                print(f"| {name} | {scale} | {level} | {ms:.3f} | {size:,} |")


if __name__ == "__main__":
    main()
