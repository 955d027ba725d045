"""Pure ASGI middleware: an id for every request, and one access-log line per request.

The id is the client's `X-Request-ID` when it sent a usable one (so an id given by a proxy or a
caller carries through), else a new uuid4 hex. It goes back in the `X-Request-ID` response header
and into every log line written while the request is served. The access line is written when the
response is complete (see response_watch) with method, path (the route template; the raw path
when no route matched), status and duration_ms; uvicorn's own access log is turned off for it.
"""

import logging
import re
import time
import uuid

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.logs import ACCESS_LOGGER, request_id
from service.response_watch import ResponseWatch

HEADER = "X-Request-ID"
_USABLE_ID = re.compile(r"[\x21-\x7e]{1,128}")  # visible ASCII, bounded: it is echoed and logged
logger = logging.getLogger(ACCESS_LOGGER)


def choose_request_id(sent: str | None) -> str:
    """The client's id if usable, else a new one."""
    return sent if sent and _USABLE_ID.fullmatch(sent) else uuid.uuid4().hex


class AccessLogMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        current = choose_request_id(Headers(scope=scope).get(HEADER))
        start = time.perf_counter()

        def log(status: int) -> None:
            path = getattr(scope.get("route"), "path", scope["path"])
            duration_ms = round((time.perf_counter() - start) * 1000, 3)
            method = scope["method"]
            logger.info(
                "%s %s %d %.1f ms request_id=%s",
                method,
                path,
                status,
                duration_ms,
                current,
                extra={
                    "request_id": current,
                    "method": method,
                    "path": path,
                    "status": status,
                    "duration_ms": duration_ms,
                },
            )

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), (HEADER.lower().encode(), current.encode())]
                message = {**message, "headers": headers}
            await send(message)

        watch = ResponseWatch(send_with_id, log)
        token = request_id.set(current)
        try:
            await self.app(scope, receive, watch.send)
        finally:
            watch.complete()
            request_id.reset(token)
