"""Generative images: `GET /sample` (a grid from random latents) and `GET /interpolate` (a strip).

Latents come from seeds exactly as the model card's `latent_from_seed` says, so the same request
always gives the same PNG bytes, and a seed means the same image in training's reports.
"""

import math
from typing import Annotated, Literal

import numpy as np
from fastapi import APIRouter, Query, Response

from service.api.deps import MetricsDep, RegistryDep
from service.latents import from_seed
from service.metrics import Metrics
from service.png import to_png
from service.registry import LoadedModel
from service.schemas import error_responses

router = APIRouter(tags=["generate"])

TASKS = ("gan", "vae")  # the first is the default model
PNG = {
    200: {"content": {"image/png": {}}, "description": "a PNG"},
    **error_responses(404, 422, 503),
}
Seed = Annotated[int, Query(ge=0, le=2**32 - 1, description="draws the latent vector(s)")]
Scale = Annotated[int, Query(ge=1, le=8, description="integer enlargement of the PNG")]
ModelName = Annotated[
    str | None, Query(description="a generative model (VAE or GAN) from /models; default 'gan'")
]


def slerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Spherical interpolation: stays at the norm Gaussian latents have; linear if a || b."""
    cos = float(np.dot(a / np.linalg.norm(a), b / np.linalg.norm(b)))
    omega = math.acos(min(1.0, max(-1.0, cos)))
    if math.sin(omega) < 1e-6:
        return (1 - t)[:, None] * a + t[:, None] * b
    weights_a, weights_b = np.sin((1 - t) * omega), np.sin(t * omega)
    return ((weights_a[:, None] * a + weights_b[:, None] * b) / math.sin(omega)).astype(np.float32)


def tile(images: np.ndarray, columns: int) -> np.ndarray:
    """``[n, c, h, w]`` as one picture of ``columns`` per row, unused places black."""
    n, c, h, w = images.shape
    rows = -(-n // columns)
    canvas = np.zeros((rows * h, columns * w, c), np.float32)
    for i, image in enumerate(images):
        row, col = divmod(i, columns)
        canvas[row * h : (row + 1) * h, col * w : (col + 1) * w] = image.transpose(1, 2, 0)
    return canvas[..., 0] if c == 1 else canvas


def generate(chosen: LoadedModel, z: np.ndarray, metrics: Metrics) -> np.ndarray:
    with metrics.time_inference(chosen.name):
        return chosen.run({"z": z})[0]


@router.get("/sample", response_class=Response, responses=PNG)
def sample(
    registry: RegistryDep,
    metrics: MetricsDep,
    model: ModelName = None,
    n: Annotated[int, Query(ge=1, le=256, description="images in the grid")] = 16,
    seed: Seed = 0,
    scale: Scale = 1,
) -> Response:
    """A PNG grid of `n` images from latents drawn with `seed`, ceil(sqrt(n)) per row."""
    chosen = registry.get(TASKS, model)
    images = generate(chosen, from_seed(seed, n, chosen.card["latent"]), metrics)
    return Response(to_png(tile(images, math.ceil(math.sqrt(n))), scale), media_type="image/png")


@router.get("/interpolate", response_class=Response, responses=PNG)
def interpolate(
    registry: RegistryDep,
    metrics: MetricsDep,
    model: ModelName = None,
    steps: Annotated[int, Query(ge=2, le=64, description="images in the strip")] = 8,
    seed_a: Seed = 1,
    seed_b: Seed = 2,
    method: Annotated[Literal["linear", "slerp"], Query(description="the path")] = "slerp",
    scale: Scale = 1,
) -> Response:
    """A PNG strip of `steps` images along the path between the latents of `seed_a` and `seed_b`."""
    chosen = registry.get(TASKS, model)
    latent = chosen.card["latent"]
    a, b = from_seed(seed_a, 1, latent)[0], from_seed(seed_b, 1, latent)[0]
    t = np.linspace(0, 1, steps, dtype=np.float32)
    z = slerp(a, b, t) if method == "slerp" else (1 - t)[:, None] * a + t[:, None] * b
    images = generate(chosen, z.astype(np.float32), metrics)
    return Response(to_png(tile(images, steps), scale), media_type="image/png")
