"""Prometheus scrape endpoint."""

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST

from service.api.deps import ContextDep

router = APIRouter(tags=["operations"])


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text"}},
)
async def metrics(ctx: ContextDep) -> Response:
    """Request counts and latency per route and status; inference time per model."""
    ctx.accounting.flush()  # the requests finished so far, some still in a batch
    return Response(ctx.metrics.render(), media_type=CONTENT_TYPE_LATEST)
