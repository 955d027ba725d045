"""Fake CelebA: `img_align_celeba/` folders of 178x218 JPEGs, the layout users download."""

from pathlib import Path

import numpy as np
from PIL import Image


def face(i: int) -> Image.Image:
    """A 178x218 'CelebA' JPEG: a bright square in the centre, a colour band top and bottom."""
    pixels = np.full((218, 178, 3), 40, np.uint8)
    pixels[:20], pixels[-20:] = (255, 0, 0), (0, 0, 255)  # outside the central 178x178 square
    pixels[59:159, 39:139] = (200, 200, 200)
    pixels[0, 0] = i  # make every file different
    return Image.fromarray(pixels)


def write_celeba(root: Path, n: int) -> Path:
    """``root/img_align_celeba/000001.jpg`` ... ``n``; returns the folder."""
    folder = root / "img_align_celeba"
    folder.mkdir(parents=True)
    for i in range(1, n + 1):
        face(i).save(folder / f"{i:06d}.jpg", quality=95)
    return folder
