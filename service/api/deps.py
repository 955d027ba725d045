"""Dependencies shared by the routes: what the app holds for them (service/context.py), and the
JSON check."""

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status

from service.context import AppContext


# Async on purpose: it only reads app.state, and FastAPI runs a sync dependency in the thread
# pool, which would cost every request a thread hop for nothing.
async def get_context(request: Request) -> AppContext:
    return request.app.state.context


ContextDep = Annotated[AppContext, Depends(get_context)]


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
    return request.headers.get("content-type", "").partition(";")[0].strip().lower()
