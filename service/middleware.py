"""The one pure-ASGI middleware every request goes through but a revalidation of a tagged URL
(service/revalidation.py answers those first): its id, the body limit, the timeout, the metrics
and the access line, in one pass over the headers, one clock read at each end and one wrapper
around ``send``.

- **Id**: the client's ``X-Request-ID`` when it sent a usable one (so an id given by a proxy or a
  caller carries through), else a new uuid4 hex; it goes back in the response header and into
  every log line written while the request is served (:data:`service.logs.request_id`).
- **Body limit**: the declared Content-Length and the bytes actually received (a chunked upload
  has no length) are checked as the endpoint reads the body; beyond ``max_bytes`` reading raises
  a 413 HTTPException, which FastAPI turns into the usual ``{"detail": ...}`` inside the matched
  route. Endpoints that never read a body are not affected.
- **Timeout**: a request whose response has not started within ``timeout`` seconds gets a 504,
  and its handler is cancelled: a request still waiting for an inference slot never runs, but work
  already in a worker thread cannot be killed; it goes on, keeps its slot until it ends
  (service/slots.py) and whatever it sends is dropped. A started response is never cut. A loop
  timer watches the clock, not a task per request (a task group cost ~80 us a request, the timer
  ~10 us), and cancels the handler's own task, taking back only its own cancellation as
  ``asyncio.timeout`` does (lighter than an anyio CancelScope around the handler); the 504
  alone gets a task. asyncio only, as uvicorn is.
- **Metrics and access line**: reported once, when the last body byte is handed to the server (a
  request answered by the timeout is reported then, not when its abandoned handler returns), or
  as the 500 the server sends if the app fails first, to service/accounting.py, which does both
  in batches. Routes are labelled by template, unmatched paths share one label.
"""

import asyncio
import json
import os
import re
import time

from fastapi import HTTPException, status
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.accounting import Accounting
from service.logs import request_id

_UUID4_CLEAR = ~((0xF << 76) | (0x3 << 62))  # the version and variant bits
_UUID4_SET = (0x4 << 76) | (0x2 << 62)  # version 4, variant 10 (RFC 9562)
_USABLE_ID = re.compile(rb"[\x21-\x7e]{1,128}")  # visible ASCII, bounded: it is echoed and logged


def choose_request_id(sent: bytes | None) -> str:
    """The client's id if usable, else a new one."""
    return sent.decode() if sent and _USABLE_ID.fullmatch(sent) else new_request_id()


def new_request_id() -> str:
    """A random (version 4) UUID in hex, as ``uuid.uuid4().hex`` gives, without building a
    ``uuid.UUID``: its bits set as RFC 9562 says. 1.1 us against 2.6 (AMD EPYC; `python -m timeit
    -s "from service.middleware import new_request_id" "new_request_id()"`, and "uuid.uuid4().hex"
    with -s "import uuid")."""
    return "%032x" % (int.from_bytes(os.urandom(16)) & _UUID4_CLEAR | _UUID4_SET)


class RequestMiddleware:
    def __init__(
        self, app: ASGIApp, accounting: Accounting, max_bytes: int, timeout: float
    ) -> None:
        self.app = app
        self.metrics = accounting.metrics  # for the requests in flight
        self.accounting = accounting
        self.max_bytes = max_bytes
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        sent_id, declared = None, b""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                sent_id = value
            elif name == b"content-length":
                declared = value
        current = choose_request_id(sent_id)
        id_header = (b"x-request-id", current.encode())
        answer: asyncio.Task[None] | None = None
        received = 0
        code = 500  # if the app raises, the server error middleware answers 500
        started = timed_out = reported = False

        def report() -> None:
            nonlocal reported
            if not reported:
                reported = True
                # Starlette's router stores the matched route in the (shared) scope.
                route = getattr(scope.get("route"), "path", None)
                seconds = time.perf_counter() - start
                self.accounting(scope, route, code, seconds, current)

        async def deliver(message: Message) -> None:
            nonlocal code
            if message["type"] == "http.response.start":
                code = message["status"]
                message = {**message, "headers": [*message.get("headers", []), id_header]}
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                report()

        async def app_send(message: Message) -> None:
            nonlocal started
            if timed_out:
                return  # the client already has its 504
            started = started or message["type"] == "http.response.start"
            await deliver(message)

        async def limited_receive() -> Message:
            nonlocal received
            if declared.isdigit() and int(declared) > self.max_bytes:
                self.reject(int(declared))
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    self.reject(received)
            return message

        loop = asyncio.get_running_loop()
        handler = asyncio.current_task()
        token = request_id.set(current)
        self.metrics.in_flight.inc()
        try:

            def on_timeout() -> None:
                nonlocal timed_out, answer
                if not started:
                    timed_out = True
                    answer = loop.create_task(self.answer_timeout(deliver))
                    handler.cancel()

            timer = loop.call_later(self.timeout, on_timeout)
            try:
                await self.app(scope, limited_receive, app_send)
            except asyncio.CancelledError:
                # The timeout's own cancellation ends here; any other (the server stopping) goes on.
                if not timed_out or handler.uncancel() > 0:
                    raise
            finally:
                timer.cancel()
        finally:
            try:
                if answer is not None:
                    await answer  # long sent, unless the client reads slowly
            finally:
                self.metrics.in_flight.dec()
                report()
                request_id.reset(token)

    def reject(self, size: int) -> None:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE,
            f"request body is {size} bytes or more; at most {self.max_bytes} bytes are allowed",
        )

    async def answer_timeout(self, deliver: Send) -> None:
        detail = (
            f"the request was not answered within {self.timeout:g} s and was abandoned; "
            "try again later, or with a smaller batch or image"
        )
        body = json.dumps({"detail": detail}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await deliver({"type": "http.response.start", "status": 504, "headers": headers})
        await deliver({"type": "http.response.body", "body": body})
