"""Seeds to latent vectors, the one way every card's `latent_from_seed` / `style.from_seed` says."""

import numpy as np


def from_seed(seed: int, n: int, latent: int) -> np.ndarray:
    """``[n, latent]`` float32 standard normal draws of ``numpy.random.default_rng(seed)``."""
    return np.random.default_rng(seed).standard_normal((n, latent), dtype=np.float32)
