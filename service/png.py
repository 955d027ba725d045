"""Model outputs to PNG bytes: pixels in 0..1 to 8-bit, enlarged by an integer factor.

Encoding is deterministic (same pixels, same bytes), which the contract promises for every image
endpoint: a client may cache or compare PNGs by their bytes.
"""

import io

import numpy as np
from PIL import Image


def to_png(pixels: np.ndarray, scale: int = 1) -> bytes:
    """``[height, width]`` (gray) or ``[height, width, 3]`` (RGB) floats in 0..1 as a PNG.

    Each pixel becomes a ``scale`` x ``scale`` block (nearest neighbour keeps strokes crisp).
    """
    if pixels.ndim not in (2, 3):
        raise ValueError(f"expected [height, width] or [height, width, 3], got {pixels.shape}")
    eight_bit = np.round(np.clip(pixels, 0, 1) * 255).astype(np.uint8)
    image = Image.fromarray(eight_bit)
    if scale != 1:
        image = image.resize((image.width * scale, image.height * scale), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()
