"""The loaded models and their cards."""

from fastapi import APIRouter

from service.api.deps import ContextDep
from service.schemas import ModelInfo, ModelsResponse

router = APIRouter(tags=["models"])


@router.get("/models", response_model=ModelsResponse)
async def list_models(ctx: ContextDep) -> ModelsResponse:
    """Every loaded model with its whole card (task, dataset, shapes, metrics, sha256, ...)."""
    return ModelsResponse(models=[ModelInfo(**m.card) for m in ctx.registry.models()])
