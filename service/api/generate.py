"""Generative images: `GET /sample` (a grid from random latents), `GET /interpolate` (a strip
between two seeds' latents) and `POST /interpolate` (a VAE's strip between two uploaded images).

Latents come from seeds exactly as the model card's `latent_from_seed` says, so the same request
always gives the same PNG bytes, and a seed means the same image in training's reports.
"""

import math
from typing import Annotated, Literal

import numpy as np
from fastapi import APIRouter, HTTPException, Query, Request, Response, status

from service import caching
from service.api.deps import ContextDep
from service.api.uploads import image_body, read_image_fields
from service.context import AppContext
from service.images import ImageError, read_picture
from service.latents import MAX_SEED, from_seed, path
from service.metrics import Metrics
from service.png import MAX_SCALE, tile, to_png
from service.registry import LoadedModel
from service.schemas import error_responses

router = APIRouter(tags=["generate"])

TASKS = ("gan", "vae")  # the first is the default model
MAX_N = 256
PNG = {
    200: {"content": {"image/png": {}}, "description": "a PNG"},
    **error_responses(404, 422, 503),
}
CACHED_PNG = {**PNG, **caching.RESPONSES}
Seed = Annotated[int, Query(ge=0, le=MAX_SEED, description="draws the latent vector(s)")]
Scale = Annotated[int, Query(ge=1, le=MAX_SCALE, description="integer enlargement of the PNG")]
ModelName = Annotated[
    str | None, Query(description="a generative model (VAE or GAN) from /models; default 'gan'")
]
Steps = Annotated[int, Query(ge=2, le=64, description="images in the strip")]
Method = Annotated[Literal["linear", "slerp"], Query(description="the path")]


@router.get("/sample", response_class=Response, responses=CACHED_PNG)
async def sample(
    request: Request,
    ctx: ContextDep,
    model: ModelName = None,
    n: Annotated[int, Query(ge=1, le=MAX_N, description="images in the grid")] = 16,
    seed: Seed = 0,
    scale: Scale = 1,
) -> Response:
    """A PNG grid of `n` images from latents drawn with `seed`, ceil(sqrt(n)) per row."""
    chosen = ctx.registry.get(TASKS, model)
    tag = ctx.tags.issue(request.scope, sample_tag(chosen, n, seed, scale))
    if caching.holds(request, tag):
        return caching.not_modified(tag)
    return caching.png(await sample_png(ctx, chosen, n, seed, scale), tag)


sample_route = router.routes[0]  # what service/image_fast_path.py labels its requests with


def sample_tag(chosen: LoadedModel, n: int, seed: int, scale: int) -> str:
    return caching.etag(chosen, "/sample", n=n, seed=seed, scale=scale)


async def sample_png(ctx: AppContext, chosen: LoadedModel, n: int, seed: int, scale: int) -> bytes:
    """`GET /sample`'s PNG; service/image_fast_path.py calls it too."""
    z = from_seed(seed, n, chosen.card["latent"])
    return await ctx.slots.run(grid, chosen, z, math.ceil(math.sqrt(n)), scale, ctx.metrics)


@router.get("/interpolate", response_class=Response, responses=CACHED_PNG)
async def interpolate(
    request: Request,
    ctx: ContextDep,
    model: ModelName = None,
    steps: Steps = 8,
    seed_a: Seed = 1,
    seed_b: Seed = 2,
    method: Method = "slerp",
    scale: Scale = 1,
) -> Response:
    """A PNG strip of `steps` images along the path between the latents of `seed_a` and `seed_b`."""
    chosen = ctx.registry.get(TASKS, model)
    params = {"steps": steps, "seed_a": seed_a, "seed_b": seed_b, "method": method, "scale": scale}
    tag = ctx.tags.issue(request.scope, caching.etag(chosen, "/interpolate", **params))
    if caching.holds(request, tag):
        return caching.not_modified(tag)
    latent = chosen.card["latent"]
    a, b = from_seed(seed_a, 1, latent)[0], from_seed(seed_b, 1, latent)[0]
    png = await ctx.slots.run(grid, chosen, path(a, b, steps, method), steps, scale, ctx.metrics)
    return caching.png(png, tag)


@router.post(
    "/interpolate",
    response_class=Response,
    responses={**PNG, **error_responses(400, 404, 413, 415, 422, 503)},
    openapi_extra=image_body(("a", "b")),
)
async def interpolate_images(
    request: Request,
    ctx: ContextDep,
    model: Annotated[
        str | None, Query(description="a VAE from /models (it needs an encoder); default 'vae'")
    ] = None,
    steps: Steps = 8,
    method: Method = "slerp",
    scale: Scale = 1,
) -> Response:
    """A PNG strip between two uploaded images (multipart fields `a` and `b`), through a VAE.

    Each image's central square is resized to the model's size and channels and encoded; the
    strip runs between the two latent means, so its ends are the VAE's reconstructions.
    """
    chosen = ctx.registry.get("vae", model)
    if chosen.encoder is None:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"VAE {chosen.name!r} was exported without an encoder; it cannot read images",
        )
    uploads = await read_image_fields(request, ("a", "b"))
    max_side, metrics = ctx.settings.max_image_side, ctx.metrics

    def encode_and_decode() -> bytes:
        a, b = encode(chosen, [uploads["a"], uploads["b"]], max_side, metrics)
        return grid(chosen, path(a, b, steps, method), steps, scale, metrics)

    # Decoding and inference are CPU work: in an inference slot, off the event loop (one hop).
    return Response(await ctx.slots.run(encode_and_decode), media_type="image/png")


def encode(
    chosen: LoadedModel, uploads: list[bytes], max_side: int, metrics: Metrics
) -> np.ndarray:
    """The latent means of the uploaded images, or a 422 saying which image is unusable."""
    image = chosen.card["image"]
    pictures = []
    for field, data in zip("ab", uploads, strict=True):
        try:
            pictures.append(read_picture(data, image["size"], image["channels"], max_side))
        except ImageError as exc:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT, f"field {field!r}: {exc}"
            ) from None
    with metrics.time_inference(chosen.name):
        return chosen.run_encoder(["mean"], {"images": np.stack(pictures)})[0]


def grid(chosen: LoadedModel, z: np.ndarray, columns: int, scale: int, metrics: Metrics) -> bytes:
    """The PNG of the images decoded from the latents ``z``, ``columns`` per row: a slot's work."""
    with metrics.time_inference(chosen.name):
        images = chosen.run({"z": z})[0]
    return to_png(tile(images, columns), scale)
