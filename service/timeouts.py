"""Pure ASGI middleware: a 504 `{"detail": ...}` for a request whose response has not started
within `seconds` (a slow upload, a stuck model), so the client is not left waiting.

The timeout frees the client, not always the server: the handler is cancelled, so a request still
waiting for an inference slot never runs, but work already in a worker thread cannot be killed: it
goes on and keeps its slot until it ends (service/slots.py), which is what keeps abandoned work
bounded. Whatever the handler sends afterwards is dropped. A started response (a stream) is not cut.

A loop timer watches the clock, not a task per request: measured on direct ASGI calls of
`GET /health` (57 us without the middleware), a task group added about 80 us, the timer about 10 us.
The 504 alone gets a task of its own. asyncio only, as uvicorn is.
"""

import asyncio
import json

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class RequestTimeoutMiddleware:
    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = timed_out = False
        answer: asyncio.Task[None] | None = None
        loop = asyncio.get_running_loop()

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if timed_out:
                return  # the client already has its 504
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            with anyio.CancelScope() as handler:

                def on_timeout() -> None:
                    nonlocal timed_out, answer
                    if not started:
                        timed_out = True
                        answer = loop.create_task(self._answer_timeout(send))
                        handler.cancel()

                timer = loop.call_later(self.seconds, on_timeout)
                try:
                    await self.app(scope, receive, guarded_send)
                finally:
                    timer.cancel()
        finally:
            if answer is not None:
                await answer  # long sent, unless the client reads slowly; its errors surface here

    async def _answer_timeout(self, send: Send) -> None:
        detail = (
            f"the request was not answered within {self.seconds:g} s and was abandoned; "
            "try again later, or with a smaller batch or image"
        )
        body = json.dumps({"detail": detail}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 504, "headers": headers})
        await send({"type": "http.response.body", "body": body})
