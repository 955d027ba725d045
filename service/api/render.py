"""Text-to-image: `GET /render`, the answer of a query in generated handwriting, as PNG or JSON."""

import base64
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Literal

import numpy as np
from fastapi import APIRouter, HTTPException, Query, Request, Response, status

from service import caching
from service.api.deps import ContextDep
from service.arithmetic import ALLOWED, QueryError, parse_query
from service.batching import Batcher
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


MAX_BATCH = 16  # drawings a run; past 8 each costs hardly less (python -m bench.batch_sizes)


@dataclass(frozen=True)
class Order:
    """One request's share of a batched run: its canonical query, its handwriting's seed and
    its PNG's enlargement. The slot's thread makes the model's input from them, off the event
    loop, which is the busier of the two under load."""

    query: str
    seed: int
    scale: int

    def __len__(self) -> int:  # its rows in the run (service/batching.py)
        return 1


Drawing = tuple[np.ndarray, np.ndarray, bytes]  # image [1, 1, h, w], cell symbols [1, cells], PNG


async def drawing(
    ctx: AppContext, chosen: LoadedModel, query: str, seed: int, scale: int
) -> Drawing:
    """The model's image and cell symbols for a canonical ``query``, and the image as a PNG,
    drawn in one run with the other renders waiting for the model (service/batching.py);
    service/image_fast_path.py calls it too."""
    if chosen.name not in ctx.batchers:
        ctx.batchers[chosen.name] = Batcher(
            partial(draw, chosen, ctx.metrics), MAX_BATCH, ctx.slots, spread=True
        )
    return await ctx.batchers[chosen.name](Order(query, seed, scale))


def draw(chosen: LoadedModel, metrics: Metrics, orders: list[Order]) -> list[Drawing]:
    """Every order's drawing from one run of the model: a slot's work. A row's pixels do not
    depend on the rows beside it (tests/test_service_render.py): a URL's bytes and ETag hold."""
    metrics.count_batch(chosen.name, len(orders))
    latent = chosen.card["style"]["latent"]
    feeds = {
        "query": chosen.codec.encode([order.query for order in orders]),
        "style": np.concatenate([from_seed(order.seed, 1, latent) for order in orders]),
    }
    with metrics.time_inference(chosen.name):
        images, cells = chosen.run(feeds)
    return [
        (images[i : i + 1], cells[i : i + 1], to_png(images[i, 0], order.scale))
        for i, order in enumerate(orders)
    ]
