"""Exception handlers: every client error becomes `{"detail": "<one readable string>"}`.

FastAPI's default 422 body is a list of pydantic error objects; the contract asks for a string
that says what is wrong and what is allowed, so validation errors are flattened here.
"""

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from service.registry import NotReadyError, UnknownModelError

MAX_LISTED = 3  # errors spelled out in one detail; the rest are counted


def describe_errors(problems: Sequence[str]) -> str:
    """Join the first few problems and count the rest, so a 4096-item batch stays readable."""
    shown = "; ".join(problems[:MAX_LISTED])
    more = len(problems) - MAX_LISTED
    return f"{shown} (and {more} more)" if more > 0 else shown


def location(loc: Sequence[str | int]) -> str:
    """('body', 'queries', 3) -> 'queries[3]'; ('query', 'model') -> 'query parameter model'."""
    source, *path = loc
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    if source == "body":
        return text or "body"
    return f"{source} parameter {text}" if text else str(source)


def _describe(error: dict[str, Any], request: Request) -> str:
    """One pydantic/FastAPI error as 'where: what is wrong (what is allowed)'."""
    kind, loc, ctx = error["type"], tuple(error["loc"]), error.get("ctx", {})
    if kind == "json_invalid":
        problem = f"{ctx.get('error')} at character {loc[-1]}"
        return f"body is not valid JSON ({problem}); send a JSON object"
    if kind == "missing" and loc == ("body",):
        return (
            f"request body is missing; {request.method} {request.url.path} expects a JSON object"
            " (its schema is in /docs)"
        )
    message = str(ctx["error"]) if kind == "value_error" and "error" in ctx else error["msg"]
    return f"{location(loc)}: {message}"


async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    detail = describe_errors([_describe(e, request) for e in exc.errors()])
    return JSONResponse({"detail": detail}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


async def unknown_model(request: Request, exc: UnknownModelError) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_404_NOT_FOUND)


async def not_ready(request: Request, exc: NotReadyError) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_503_SERVICE_UNAVAILABLE)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(UnknownModelError, unknown_model)
    app.add_exception_handler(NotReadyError, not_ready)
