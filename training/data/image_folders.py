"""Image sets users bring (CelebA as the study used it, or any folder of pictures) as uint8 arrays.

Accepted, as people have them: a folder of images (``img_align_celeba/`` or any other, searched
recursively), a ``.zip`` of images (``img_align_celeba.zip``), or a ready ``(N, H, W, C)`` uint8
``.npy``. Images are taken in sorted name order, the first ``limit`` of them (the study used the
first 20,000 CelebA faces), centre-cropped to a square, resized and converted to the channels
asked for. The result is cached as ``.npy`` next to other data, so preprocessing runs once.
"""

import hashlib
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from training.data.mnist import data_root, write_whole
from training.usage import UsageError

SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


def square(image: Image.Image, size: int, channels: int) -> np.ndarray:
    """The central square of ``image``, resized to ``size``: uint8 ``[size, size, channels]``."""
    side = min(image.size)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    crop = image.convert("RGB" if channels == 3 else "L").crop((left, top, left + side, top + side))
    pixels = np.asarray(crop.resize((size, size), Image.Resampling.LANCZOS), np.uint8)
    return pixels.reshape(size, size, channels)


def image_files(source: Path, limit: int | None) -> Iterator[tuple[str, bytes]]:
    """``(name, bytes)`` of the first ``limit`` images of a folder or zip, in sorted name order."""
    if source.is_dir():
        paths = sorted(p for p in source.rglob("*") if p.suffix.lower() in SUFFIXES)
        for path in paths[:limit]:
            yield str(path.relative_to(source)), path.read_bytes()
    else:
        with zipfile.ZipFile(source) as archive:
            names = sorted(n for n in archive.namelist() if Path(n).suffix.lower() in SUFFIXES)
            for name in names[:limit]:
                yield name, archive.read(name)


def decode_all(source: Path, size: int, channels: int, limit: int | None) -> np.ndarray:
    """Every image of ``source`` as a square; a file that is not an image stops with its name."""
    out = []
    for name, data in image_files(source, limit):
        try:
            out.append(square(Image.open(io.BytesIO(data)), size, channels))
        except (UnidentifiedImageError, OSError) as exc:
            raise UsageError(f"{source}: {name} is not a readable image ({exc})") from None
    if not out:
        raise UsageError(f"{source}: no images ({', '.join(SUFFIXES)}) found")
    return np.stack(out)


def read_npy(path: Path, size: int, channels: int, limit: int | None) -> np.ndarray:
    """A ready ``(N, size, size, channels)`` uint8 array; anything else is refused (no pickle)."""
    array = np.load(path, allow_pickle=False, mmap_mode="r")
    expected = (size, size, channels)
    if array.dtype != np.uint8 or array.ndim != 4 or array.shape[1:] != expected:
        raise UsageError(f"{path}: expected uint8 (N, {size}, {size}, {channels}), got "
                         f"{array.dtype} {array.shape}")  # fmt: skip
    return np.array(array[:limit])


def load_images(
    source: Path,
    size: int = 64,
    channels: int = 3,
    limit: int | None = None,
    cache_dir: Path | None = None,
) -> np.ndarray:
    """The images of ``source`` (folder, zip or .npy) as uint8 ``[N, size, size, channels]``."""
    if channels not in (1, 3):
        raise UsageError(f"channels must be 1 or 3, not {channels}")
    source = Path(source)
    if not source.exists():
        raise UsageError(f"{source}: no such file or folder (--data takes fashion-mnist, "
                         "emoji-<subset>, or a folder, .zip or .npy of images)")  # fmt: skip
    if source.suffix == ".npy":
        return read_npy(source, size, channels, limit)
    key = hashlib.sha256(f"{source.resolve()}|{size}|{channels}|{limit}".encode()).hexdigest()[:16]
    cache = Path(cache_dir or data_root() / "images") / f"{source.stem}-{key}.npy"
    if cache.is_file():
        return np.load(cache, allow_pickle=False)
    images = decode_all(source, size, channels, limit)
    write_whole(cache, lambda p: np.save(p, images))
    return images
