"""Image-to-text arithmetic: `POST /solve/image`, a handwritten strip in, answer and reading out."""

from typing import Annotated

import numpy as np
from fastapi import APIRouter, HTTPException, Query, Request, status

from service.api.deps import ContextDep
from service.api.uploads import image_body, read_image_upload
from service.arithmetic import spell
from service.images import ImageError, StripShape, read_strip
from service.metrics import Metrics
from service.registry import LoadedModel
from service.schemas import SolveImageResponse, error_responses

router = APIRouter(tags=["solve"])

ModelName = Annotated[
    str | None, Query(description="an image2text model from /models; default: 'image2text'")
]


@router.post(
    "/solve/image",
    response_model=SolveImageResponse,
    responses=error_responses(400, 404, 413, 415, 422, 503),
    openapi_extra=image_body(("file",), raw_body=True),
)
async def solve_image(
    request: Request, ctx: ContextDep, model: ModelName = None
) -> SolveImageResponse:
    """Read the handwritten query in a strip of five cells and answer it.

    Send a PNG or JPEG as multipart field `file` or as the raw body (`Content-Type: image/png`
    or `image/jpeg`): 140x28, or any 5:1 image (it is resized); dark strokes on light are inverted.
    """
    chosen = ctx.registry.get("image2text", model)
    data = await read_image_upload(request, "file")
    # Decoding and inference are CPU work: in an inference slot, off the event loop.
    answer, expression = await ctx.slots.run(
        read_and_solve, chosen, data, ctx.settings.max_image_side, ctx.metrics
    )
    return SolveImageResponse(answer=answer, expression=expression, model=chosen.name)


def read_and_solve(
    chosen: LoadedModel, data: bytes, max_side: int, metrics: Metrics
) -> tuple[str, str]:
    """The answer and the expression read, or a 422 saying why the image cannot be read."""
    try:
        strip = read_strip(data, StripShape.from_card(chosen.card), max_side)
    except ImageError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    with metrics.time_inference(chosen.name):
        outputs = chosen.run({chosen.card["inputs"][0]["name"]: strip[np.newaxis, np.newaxis]})
    named = dict(zip((o["name"] for o in chosen.card["outputs"]), outputs, strict=True))
    symbols = chosen.card["symbols"]
    return spell(symbols, named["answer"])[0], spell(symbols, named["symbols"])[0]
