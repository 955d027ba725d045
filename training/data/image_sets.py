"""The image sets a generative model trains on, by name: what ``--data`` accepts.

- ``fashion-mnist``: 28x28 grey, its train split to train on, its 10,000 test images held out.
- ``emoji-<subset>`` (``emoji-faces``, ...: :mod:`training.data.emoji`): 64x64 RGB, a fixed split
  by image, the held-out images never trained on.
- any other value: a user's folder, zip or ``.npy`` (:mod:`training.data.image_folders`), all of
  it trained on; there is no held-out split.
"""

from pathlib import Path

import numpy as np

from training.data import emoji
from training.data.fashion import CLASSES as FASHION_CLASSES
from training.data.fashion import load_fashion
from training.data.image_folders import load_images
from training.usage import UsageError

FASHION = "fashion-mnist"
EMOJI = "emoji-"
SHAPES = {FASHION: (28, 1)}  # (size, channels) of the named sets; emoji: (emoji.SIZE, 3)


def is_emoji(data: str) -> bool:
    return data.startswith(EMOJI)


def shape(data: str) -> tuple[int, int] | None:
    """``(size, channels)`` a named set comes in; None for a user's images (any)."""
    return (emoji.SIZE, 3) if is_emoji(data) else SHAPES.get(data)


def check_shape(data: str, size: int, channels: int) -> None:
    expected = shape(data)
    if expected is not None and expected != (size, channels):
        raise UsageError(f"{data} is {expected[0]}x{expected[0]} with {expected[1]} channel(s): "
                         f"pass --size {expected[0]} --channels {expected[1]}")  # fmt: skip


def every_image(data: str) -> np.ndarray:
    """All of an emoji subset, both splits: the reference of its headline FID."""
    return emoji.load_emoji(data.removeprefix(EMOJI))


def train_pixels(data: str, size: int, channels: int, limit: int | None) -> np.ndarray:
    """uint8 ``[n, size, size, channels]``: the images to train on, the first ``limit`` of them."""
    check_shape(data, size, channels)
    if data == FASHION:
        return load_fashion("train")[0][:limit, :, :, None]
    if is_emoji(data):
        images = every_image(data)
        return images[emoji.split(images)[0]][:limit]
    return load_images(Path(data), size, channels, limit)


def train_labels(data: str, limit: int | None) -> tuple[np.ndarray, int]:
    """int64 ``[n]``, the classes of :func:`train_pixels`' images, and how many classes there are
    (a class-conditional GAN's)."""
    if data != FASHION:
        raise UsageError(f"--conditional needs labelled images, which only {FASHION} has here")
    return load_fashion("train")[1][:limit], len(FASHION_CLASSES)


def held_out_pixels(data: str) -> np.ndarray | None:
    """uint8 ``[n, size, size, channels]`` never trained on, or None for a user's images."""
    if data == FASHION:
        return load_fashion("test")[0][:, :, :, None]
    if is_emoji(data):
        images = every_image(data)
        return images[emoji.split(images)[1]]
    return None


def card(data: str, limit: int | None) -> dict:
    """The dataset part of a model card: its name; for the emoji, sources and licences."""
    if is_emoji(data):
        return {"data": data, "limit": limit, **emoji.card(data.removeprefix(EMOJI),
                                                          len(every_image(data)))}  # fmt: skip
    return {"data": data, "limit": limit}
