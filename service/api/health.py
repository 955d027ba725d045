"""Liveness and readiness, for load balancers and orchestrators."""

from fastapi import APIRouter, HTTPException, status

from service.api.deps import ContextDep
from service.schemas import HealthResponse, ReadyResponse, error_responses

router = APIRouter(tags=["operations"])


@router.get("/health", response_model=HealthResponse)
async def health() -> HealthResponse:
    """200 as soon as the process serves; says nothing about the models."""
    return HealthResponse()


@router.get("/ready", response_model=ReadyResponse, responses=error_responses(503))
async def ready(ctx: ContextDep) -> ReadyResponse:
    """200 once every model is loaded and warmed up, else 503."""
    if not ctx.registry.ready:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "models are not loaded yet")
    return ReadyResponse()
