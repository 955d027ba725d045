"""The app factory: `uvicorn service.main:create_app --factory`, or `python -m service`."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from service.api import router
from service.body_limit import BodySizeLimitMiddleware
from service.errors import install_error_handlers
from service.metrics import Metrics, MetricsMiddleware
from service.registry import Registry
from service.settings import Settings


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Load every model before serving; a bad card stops the start with a message naming it."""
    settings: Settings = app.state.settings
    app.state.registry.load(settings.models_dir, settings.ort_intra_op_threads)
    try:
        yield
    finally:
        app.state.registry.close()


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; `settings` defaults to `Settings()` (GENSEQ_* environment variables)."""
    app = FastAPI(
        title="genseq",
        summary="Generative and sequence models, trained in PyTorch, served with onnxruntime.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings or Settings()
    app.state.registry = Registry()
    app.state.metrics = Metrics()
    # Added last = outermost: metrics see every response, including the 413s.
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=app.state.settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    install_error_handlers(app)
    app.include_router(router)
    return app
