"""Seeds to latent vectors, the one way every card's `latent_from_seed` / `style.from_seed` says,
and paths between two latents (the service's strips and training's reports walk the same ones)."""

import math

import numpy as np

MAX_SEED = 2**32 - 1  # numpy takes larger seeds; the routes take these


def from_seed(seed: int, n: int, latent: int) -> np.ndarray:
    """``[n, latent]`` float32 standard normal draws of ``numpy.random.default_rng(seed)``."""
    return np.random.default_rng(seed).standard_normal((n, latent), dtype=np.float32)


def slerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Spherical interpolation: stays at the norm Gaussian latents have; linear if a || b."""
    cos = float(np.dot(a / np.linalg.norm(a), b / np.linalg.norm(b)))
    omega = math.acos(min(1.0, max(-1.0, cos)))
    if math.sin(omega) < 1e-6:
        return (1 - t)[:, None] * a + t[:, None] * b
    weights_a, weights_b = np.sin((1 - t) * omega), np.sin(t * omega)
    return ((weights_a[:, None] * a + weights_b[:, None] * b) / math.sin(omega)).astype(np.float32)


def path(a: np.ndarray, b: np.ndarray, steps: int, method: str = "slerp") -> np.ndarray:
    """``[steps, latent]`` float32 from ``a`` to ``b``, ``"linear"`` or ``"slerp"``."""
    t = np.linspace(0, 1, steps, dtype=np.float32)
    z = slerp(a, b, t) if method == "slerp" else (1 - t)[:, None] * a + t[:, None] * b
    return z.astype(np.float32)
