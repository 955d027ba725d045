"""The app factory: `uvicorn service.main:create_app --factory`, or `python -m service`."""

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from service import fast_path, image_fast_path, revalidation
from service.api import routers, solve
from service.context import AppContext
from service.errors import install_error_handlers
from service.middleware import RequestMiddleware
from service.settings import Settings


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Load every model before serving; a bad card stops the start with a message naming it."""
    context: AppContext = app.state.context
    settings = context.settings
    context.registry.load(
        settings.models_dir, settings.ort_intra_op_threads, settings.ort_providers
    )
    context.batchers.clear()  # a batcher belongs to the event loop of one run of the app
    context.tags.clear()
    # Everything loaded so far lives as long as the app: keep it out of the garbage collector's
    # full passes, which otherwise stall the event loop now and then while they walk it all (p99
    # of /solve/text at c=8: 35 ms -> 5.5 ms, `python -m bench --endpoints text --concurrency 8`).
    gc.freeze()
    try:
        yield
    finally:
        context.registry.close()  # /ready answers 503 from here on
        context.accounting.flush()
        context.metrics.close()


# FastAPI's own OpenTelemetry, all parts off: with them on, every request first asks the
# OpenTelemetry API for configured providers (6 us a request in-process, `python -m
# bench.in_process`), a sixth of a revalidation's cost, for nothing unless a provider is set.
TELEMETRY_OFF = {"tracing": False, "metrics": False, "logs": False, "operation_spans": False}


class App(FastAPI):
    """FastAPI with revalidations of tagged URLs answered before it (service/revalidation.py).
    Not with OpenTelemetry on: there every request goes through FastAPI, to get its span."""

    revalidations: revalidation.Revalidations | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.revalidations is None or not await self.revalidations.answered(scope, send):
            await super().__call__(scope, receive, send)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; `settings` defaults to `Settings()` (GENSEQ_* environment variables)."""
    settings = settings or Settings()
    app = App(
        title="genseq",
        summary="Generative and sequence models, trained in PyTorch, served with onnxruntime.",
        version="0.1.0",
        lifespan=lifespan,
        # Operation ids are the endpoint functions' names (solve_text, sample, ...): what
        # generated clients name their methods, instead of FastAPI's solve_text_solve_text_post.
        generate_unique_id_function=lambda route: route.name,
        telemetry=None if settings.opentelemetry else TELEMETRY_OFF,
    )
    context = AppContext.create(settings)
    app.state.context = context
    if not settings.opentelemetry:
        app.revalidations = revalidation.Revalidations(context)
    install_error_handlers(app)
    for router in routers:
        app.include_router(router)
    # The last added is the outermost. Single text queries and plain GETs of /sample and /render
    # skip FastAPI's per-request machinery (service/fast_path.py, service/image_fast_path.py),
    # revalidations of tagged images all of it (App); the access line and metrics see every
    # response, the 413s and the timeout's 504s included; the timeout covers reading the body too
    # (a slow upload).
    app.add_middleware(image_fast_path.ImageFastPath, context=context)
    app.add_middleware(fast_path.SingleQueryFastPath, context=context, route=solve.route)
    app.add_middleware(
        RequestMiddleware,
        accounting=context.accounting,
        max_bytes=settings.max_body_bytes,
        timeout=settings.request_timeout_seconds,
    )
    return app
