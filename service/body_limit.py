"""Pure ASGI middleware capping request bodies at `max_bytes` (413 beyond it).

It checks the declared Content-Length and also counts the bytes actually received, so a chunked
upload without a length cannot get past it. The 413 is raised as an HTTPException from `receive`,
i.e. when the endpoint reads the body: FastAPI re-raises HTTPExceptions from body reading, and the
exception handlers turn it into the usual `{"detail": ...}`, inside the matched route (so metrics
label it with the route). Endpoints that never read a body are not affected.
"""

from fastapi import HTTPException, status
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodySizeLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            if declared.isdigit() and int(declared) > self.max_bytes:
                self._reject(int(declared))
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    self._reject(received)
            return message

        await self.app(scope, limited_receive, send)

    def _reject(self, size: int) -> None:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE,
            f"request body is {size} bytes or more; at most {self.max_bytes} bytes are allowed",
        )
