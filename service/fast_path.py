"""`POST /solve/text` with one well-formed query, answered without FastAPI's routing, dependency
solving and body validation: the service's most frequent request, and a cheap one to run.

In-process ASGI calls (8 in flight, the model run for real) cost 0.463 ms of CPU a query through
the route and 0.221 ms through this path; a bare ASGI app answering a constant costs 0.008 ms
(`python -m bench.in_process`). Most of the difference is FastAPI's per-request machinery
(matching routes, solving dependencies, validating the body as a model), which a one-key JSON body
does not need.

Only requests that are certainly fine are taken: no query string (so the default model), a
declared Content-Length of at most ``MAX_BODY`` bytes (and within the body limit), Content-Type
``application/json``, a body that is a JSON object of exactly one key ``"query"`` holding a string
that parses as a query, and a loaded model. Anything else, or a failure on the way, goes to the
app with the body as it was received, so every error is the app's own, word for word; the answer
is made by the same function the route calls, so a taken request gets the route's very bytes.
"""

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api.solve import answer_one
from service.arithmetic import QueryError, parse_query
from service.context import AppContext
from service.registry import NotReadyError

PATH = "/solve/text"
MAX_BODY = 1024  # bytes: a single query's body is tens
_JSON = b"application/json"


class SingleQueryFastPath:
    def __init__(self, app: ASGIApp, context: AppContext, route: Any) -> None:
        self.app = app
        self.context = context
        self.route = route  # what the metrics and access line label the request with
        self.max_body = min(MAX_BODY, context.settings.max_body_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not (scope["type"] == "http" and scope["path"] == PATH and self.may_take(scope)):
            await self.app(scope, receive, send)
            return
        received: list[Message] = []
        body = await self.read_body(receive, received)
        query = self.single_query(body) if body is not None else None
        try:
            chosen = self.context.registry.get("text2text", None) if query else None
        except NotReadyError:
            chosen = None
        if chosen is None:
            await self.app(scope, replay(received, receive), send)
            return
        scope["route"] = self.route
        payload = (await answer_one(self.context, chosen, query)).encode()
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-length", str(len(payload)).encode()), (b"content-type", _JSON),
        ]})  # fmt: skip
        await send({"type": "http.response.body", "body": payload})

    def may_take(self, scope: Scope) -> bool:
        """From the request line and headers alone: a POST without a query string, declaring a
        small JSON body."""
        if scope["method"] != "POST" or scope["query_string"]:
            return False
        length = kind = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                length = value
            elif name == b"content-type":
                kind = value
        return (
            length is not None
            and length.isdigit()
            and int(length) <= self.max_body
            and kind is not None
            and kind.partition(b";")[0].strip().lower() == _JSON
        )

    @staticmethod
    async def read_body(receive: Receive, received: list[Message]) -> bytes | None:
        """The whole body, every message kept in ``received``; None if the client left."""
        chunks = []
        while True:
            message = await receive()
            received.append(message)
            if message["type"] != "http.request":
                return None
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                return b"".join(chunks)

    def single_query(self, body: bytes) -> str | None:
        """The canonical query if ``body`` is ``{"query": "<a query>"}``, else None."""
        try:
            data = json.loads(body)  # as FastAPI parses a JSON body
        except ValueError:
            return None
        if type(data) is not dict or len(data) != 1 or type(data.get("query")) is not str:
            return None
        try:
            return parse_query(data["query"], self.context.settings.max_query_chars)
        except QueryError:
            return None


def replay(received: list[Message], receive: Receive) -> Receive:
    """``receive`` that first hands out the messages already ``received``."""
    pending = list(received)

    async def again() -> Message:
        return pending.pop(0) if pending else await receive()

    return again
