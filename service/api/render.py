"""Text-to-image: `GET /render`, the answer of a query in generated handwriting, as PNG or JSON."""

import base64
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Response, status

from service.api.deps import MetricsDep, RegistryDep, SettingsDep
from service.arithmetic import ALLOWED, QueryError, TextCodec, parse_query
from service.latents import from_seed
from service.png import to_png
from service.schemas import RenderResponse, error_responses

router = APIRouter(tags=["render"])

MAX_SEED = 2**32 - 1
MAX_SCALE = 8


@router.get(
    "/render",
    responses={
        200: {"content": {"image/png": {}}, "description": "the PNG, or JSON with format=json"},
        **error_responses(404, 422, 503),
    },
    response_model=RenderResponse,
)
def render(
    registry: RegistryDep,
    settings: SettingsDep,
    metrics: MetricsDep,
    query: Annotated[str, Query(description="'A+B' or 'A-B', 0 <= A, B <= 99, e.g. 89+56")],
    seed: Annotated[int, Query(ge=0, le=MAX_SEED, description="picks the handwriting")] = 0,
    scale: Annotated[int, Query(ge=1, le=MAX_SCALE, description="integer enlargement")] = 1,
    format: Annotated[Literal["png", "json"], Query(description="png, or json")] = "png",
    model: Annotated[
        str | None, Query(description="a text2image model; default 'text2image'")
    ] = None,
) -> Response | RenderResponse:
    """The answer of `query` in handwriting: 3 cells of 28x28, left-aligned, unused ones black."""
    chosen = registry.get("text2image", model)
    try:
        canonical = parse_query(query, settings.max_query_chars)
    except QueryError as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"query parameter query: {exc.problem}; {ALLOWED}",
        ) from None
    codec = TextCodec.from_card(chosen.card)
    feeds = {
        "query": codec.encode([canonical]),
        "style": from_seed(seed, 1, chosen.card["style"]["latent"]),
    }
    with metrics.time_inference(chosen.name):
        image, cells = chosen.run(feeds)
    png = to_png(image[0, 0], scale)
    if format == "png":
        return Response(png, media_type="image/png")
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
