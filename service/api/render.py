"""Text-to-image: `GET /render`, the answer of a query in generated handwriting, as PNG or JSON."""

import base64
from typing import Annotated, Literal

import numpy as np
from fastapi import APIRouter, HTTPException, Query, Request, Response, status

from service import caching
from service.api.deps import ContextDep
from service.arithmetic import ALLOWED, QueryError, parse_query
from service.context import AppContext
from service.latents import MAX_SEED, from_seed
from service.metrics import Metrics
from service.png import MAX_SCALE, to_png
from service.registry import LoadedModel
from service.schemas import RenderResponse, error_responses

router = APIRouter(tags=["render"])


@router.get(
    "/render",
    responses={
        200: {"content": {"image/png": {}}, "description": "the PNG, or JSON with format=json"},
        **caching.RESPONSES,
        **error_responses(404, 422, 503),
    },
    response_model=RenderResponse,
)
async def render(
    request: Request,
    response: Response,
    ctx: ContextDep,
    query: Annotated[str, Query(description="'A+B' or 'A-B', 0 <= A, B <= 99, e.g. 89+56")],
    seed: Annotated[int, Query(ge=0, le=MAX_SEED, description="picks the handwriting")] = 0,
    scale: Annotated[int, Query(ge=1, le=MAX_SCALE, description="integer enlargement")] = 1,
    format: Annotated[Literal["png", "json"], Query(description="png, or json")] = "png",
    model: Annotated[
        str | None, Query(description="a text2image model; default 'text2image'")
    ] = None,
) -> Response | RenderResponse:
    """The answer of `query` in handwriting: 3 cells of 28x28, left-aligned, unused ones black."""
    chosen = ctx.registry.get("text2image", model)
    try:
        canonical = parse_query(query, ctx.settings.max_query_chars)
    except QueryError as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"query parameter query: {exc.problem}; {ALLOWED}",
        ) from None
    tag = ctx.tags.issue(request.scope, render_tag(chosen, canonical, seed, scale, format))
    if caching.holds(request, tag):
        return caching.not_modified(tag)
    image, cells, png = await drawing(ctx, chosen, canonical, seed, scale)
    if format == "png":
        return caching.png(png, tag)
    response.headers.update(caching.headers(tag))
    symbols = chosen.card["cell_symbols"]
    return RenderResponse(
        query=canonical,
        written="".join(symbols[i] for i in cells[0]).strip(),
        seed=seed,
        scale=scale,
        width=image.shape[-1] * scale,
        height=image.shape[-2] * scale,
        model=chosen.name,
        png=base64.b64encode(png).decode("ascii"),
    )


render_route = router.routes[0]  # what service/image_fast_path.py labels its requests with


def render_tag(chosen: LoadedModel, query: str, seed: int, scale: int, format: str) -> str:
    """The tag of `GET /render`'s answer for a canonical ``query``."""
    return caching.etag(chosen, "/render", query=query, seed=seed, scale=scale, format=format)


async def drawing(
    ctx: AppContext, chosen: LoadedModel, query: str, seed: int, scale: int
) -> tuple[np.ndarray, np.ndarray, bytes]:
    """The model's image and cell symbols for a canonical ``query``, and the image as a PNG;
    service/image_fast_path.py calls it too."""
    feeds = {
        "query": chosen.codec.encode([query]),
        "style": from_seed(seed, 1, chosen.card["style"]["latent"]),
    }
    return await ctx.slots.run(draw, chosen, feeds, scale, ctx.metrics)


def draw(
    chosen: LoadedModel, feeds: dict[str, np.ndarray], scale: int, metrics: Metrics
) -> tuple[np.ndarray, np.ndarray, bytes]:
    """The model's image and cell symbols, and the image as a PNG: a slot's work."""
    with metrics.time_inference(chosen.name):
        image, cells = chosen.run(feeds)
    return image, cells, to_png(image[0, 0], scale)
