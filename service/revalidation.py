"""A revalidation of a GET image URL the service has already tagged, answered 304 before any
other layer of the app.

Clients and proxies that hold an image send its ``ETag`` back in ``If-None-Match``; the answer is
then an empty 304, and what it costs is the service's own handling. Through the route (matching,
dependency solving, query validation, the tag's hash) a 304 cost 0.306 ms of CPU in-process under
load; here it is a dictionary lookup (``python -m bench.in_process``).

The route records each URL's tag as it answers it (:class:`service.caching.IssuedTags`), so a
request is taken only if its method is GET, its path and raw query string are a URL the route has
answered since the app started, and its ``If-None-Match`` names that tag: the 304 is then the very
one the route would send. Everything else goes to the app untouched.

It sits in front of FastAPI's error middleware and of service/middleware.py: a 304 runs no
handler, reads no body and cannot time out, so of that middleware's work it needs only the
request id and the accounting (metrics and access line), done here with the same functions; it
is not counted in flight. Served, that halved a 304's CPU time (docs/benchmarks.md).
"""

import time

from starlette.types import ASGIApp, Receive, Scope, Send

from service.caching import CACHE_CONTROL, names
from service.context import AppContext
from service.middleware import account, choose_request_id

_CACHE_CONTROL = CACHE_CONTROL.encode()


class RevalidationFastPath:
    def __init__(self, app: ASGIApp, context: AppContext) -> None:
        self.app = app
        self.tags = context.tags
        self.metrics = context.metrics
        self.access = context.access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        issued = None
        if scope["type"] == "http" and scope["method"] == "GET":
            issued = self.tags.get(scope["path"], scope["query_string"])
        if issued is None:
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        sent = sent_id = None
        for name, value in scope["headers"]:
            if name == b"if-none-match":
                sent = sent or value  # the first, as the route reads it
            elif name == b"x-request-id":
                sent_id = value  # the last, as the middleware reads it
        tag, route = issued[0], getattr(issued[1], "path", None)  # the route's template
        if not (sent and names(sent.decode("latin-1"), tag)):
            await self.app(scope, receive, send)
            return
        current = choose_request_id(sent_id)
        try:
            await send({"type": "http.response.start", "status": 304, "headers": [
                (b"etag", tag.encode()), (b"cache-control", _CACHE_CONTROL),
                (b"x-request-id", current.encode()),
            ]})  # fmt: skip
            await send({"type": "http.response.body", "body": b""})
        finally:  # a client gone before the end is accounted too, as the middleware does
            seconds = time.perf_counter() - start
            account(self.metrics, self.access, scope, route, 304, seconds, current)
