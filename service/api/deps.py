"""Dependencies shared by the routes: the app's settings, registry, metrics and inference slots,
and JSON checks."""

from email.message import Message
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status

from service.metrics import Metrics
from service.registry import Registry
from service.settings import Settings
from service.slots import InferenceSlots


# Async on purpose: they only read app.state, and FastAPI runs a sync dependency in the thread
# pool, which would cost every request three thread hops for nothing.
async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_registry(request: Request) -> Registry:
    return request.app.state.registry


async def get_metrics(request: Request) -> Metrics:
    return request.app.state.metrics


async def get_slots(request: Request) -> InferenceSlots:
    return request.app.state.slots


SettingsDep = Annotated[Settings, Depends(get_settings)]
RegistryDep = Annotated[Registry, Depends(get_registry)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
SlotsDep = Annotated[InferenceSlots, Depends(get_slots)]


async def require_json(request: Request) -> None:
    """415 for a body not declared as JSON (FastAPI alone would call it a 422 of wrong type).

    An empty body passes, so that validation can report it as missing, which says more.
    """
    if not await request.body():
        return
    kind = media_type(request)
    if not (
        kind == "application/json" or (kind.startswith("application/") and kind.endswith("+json"))
    ):
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            f"Content-Type {request.headers.get('content-type')!r} is not supported; "
            "send the body as JSON with Content-Type: application/json",
        )


def media_type(request: Request) -> str:
    """The Content-Type without parameters, lower case ("" if there is none)."""
    if "content-type" not in request.headers:
        return ""
    header = Message()
    header["content-type"] = request.headers["content-type"]
    return header.get_content_type()
