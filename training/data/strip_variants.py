"""How a handwritten strip reaches the service: as drawn, JPEG-compressed, scaled up,
photographed off paper, or dark on light. Each variant is the bytes a client would send, read
back by the service's own :func:`service.images.read_strip`, so training and evaluation see a
strip exactly as the service hands it to the model.
"""

import io

import numpy as np
from PIL import Image, ImageFilter

from service.images import StripShape, read_strip
from training.data import arithmetic as ar
from training.data.glyphs import SIZE as CELL

VARIANTS = ("clean", "jpeg", "scaled", "photo", "dark_on_light")
SHAPE = StripShape(cells=ar.QUERY_LEN, cell=CELL)
MAX_SIDE = 2048  # the service's default GENSEQ_MAX_IMAGE_SIDE

JPEG_QUALITY = (30, 90)
SCALE = (2.0, 4.0)
PHOTO_SCALE = (2.0, 4.0)
PHOTO_BLUR = (0.3, 1.0)  # Gaussian radius, in strip pixels (before scaling)
PHOTO_ROTATION = 3.0  # degrees, either way
PHOTO_SHADE = (0.2, 0.5)  # how much darker one end of the paper is than the other
PHOTO_NOISE = 4.0  # sensor noise, standard deviation in grey levels


def describe() -> dict[str, str]:
    """What each variant does, with its ranges: for model cards."""
    return {
        "clean": "PNG as drawn",
        "jpeg": f"JPEG, quality {JPEG_QUALITY[0]}-{JPEG_QUALITY[1]}",
        "scaled": f"PNG scaled up {SCALE[0]:g}-{SCALE[1]:g}x (bicubic)",
        "photo": (
            f"dark on light, scaled up {PHOTO_SCALE[0]:g}-{PHOTO_SCALE[1]:g}x, turned up to "
            f"{PHOTO_ROTATION:g} degrees, Gaussian blur {PHOTO_BLUR[0]:g}-{PHOTO_BLUR[1]:g} px, "
            f"one end {PHOTO_SHADE[0]:.0%}-{PHOTO_SHADE[1]:.0%} darker, noise sd "
            f"{PHOTO_NOISE:g}, JPEG quality 60-90"
        ),
        "dark_on_light": "PNG, inverted (ink on paper)",
    }


def encode(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def jpeg(image: Image.Image, rng: np.random.Generator) -> bytes:
    return encode(image, "JPEG", quality=int(rng.integers(JPEG_QUALITY[0], JPEG_QUALITY[1] + 1)))


def scaled(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    factor = rng.uniform(*SCALE)
    size = (round(image.width * factor), round(image.height * factor))
    return image.resize(size, Image.Resampling.BICUBIC)


def photo(image: Image.Image, rng: np.random.Generator) -> bytes:
    """Ink on paper under a phone camera: scaled up, a little turned, blurred, unevenly lit,
    noisy, saved as a JPEG."""
    factor = rng.uniform(*PHOTO_SCALE)
    paper = Image.eval(image, lambda v: 255 - v)
    big = paper.resize(
        (round(paper.width * factor), round(paper.height * factor)), Image.Resampling.BICUBIC
    )
    turned = big.rotate(
        rng.uniform(-PHOTO_ROTATION, PHOTO_ROTATION), Image.Resampling.BILINEAR, fillcolor=255
    )
    blurred = turned.filter(ImageFilter.GaussianBlur(rng.uniform(*PHOTO_BLUR) * factor))
    pixels = np.asarray(blurred, np.float32)
    height, width = pixels.shape
    angle = rng.uniform(0, 2 * np.pi)
    ys, xs = np.mgrid[0:height, 0:width]
    ramp = (np.cos(angle) * xs / width + np.sin(angle) * ys / height) * 2  # about -2 .. 2
    ramp = (ramp - ramp.min()) / max(np.ptp(ramp), 1e-6)
    lit = pixels * (1 - rng.uniform(*PHOTO_SHADE) * ramp) * rng.uniform(0.8, 1.0)
    noisy = lit + rng.normal(0, PHOTO_NOISE, lit.shape)
    shot = Image.fromarray(noisy.clip(0, 255).round().astype(np.uint8))
    return encode(shot, "JPEG", quality=int(rng.integers(60, 91)))


def upload(strip: np.ndarray, variant: str, rng: np.random.Generator) -> bytes:
    """The bytes a client sends for ``strip`` (uint8 ``[28, 140]``, light on dark), sent as
    ``variant``."""
    image = Image.fromarray(strip)
    if variant == "clean":
        return encode(image)
    if variant == "jpeg":
        return jpeg(image, rng)
    if variant == "scaled":
        return encode(scaled(image, rng))
    if variant == "photo":
        return photo(image, rng)
    if variant == "dark_on_light":
        return encode(Image.eval(image, lambda v: 255 - v))
    raise ValueError(f"unknown strip variant {variant!r}; expected one of {VARIANTS}")


def as_served(strips: np.ndarray, variant: str, rng: np.random.Generator) -> np.ndarray:
    """uint8 strips ``[n, 28, 140]`` as the model sees them after each went through ``variant``
    and the service's reading (decode, grey, resize, light on dark, contrast stretch)."""
    read = [read_strip(upload(s, variant, rng), SHAPE, MAX_SIDE) for s in strips]
    return (np.stack(read) * 255).round().astype(np.uint8)
