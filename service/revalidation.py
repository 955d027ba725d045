"""A revalidation of a GET image URL the service has already tagged, answered 304 before the
app's every layer, FastAPI's own included.

Clients and proxies that hold an image send its ``ETag`` back in ``If-None-Match``; the answer is
then an empty 304, and what it costs is the service's own handling. Through the route (matching,
dependency solving, query validation, the tag's hash) a 304 cost 0.306 ms of CPU in-process under
load; here it is a dictionary lookup (``python -m bench.in_process``).

The route records each URL's tag as it answers it (:class:`service.caching.IssuedTags`), so a
request is taken only if its method is GET, its path and raw query string are a URL the route has
answered since the app started, and its ``If-None-Match`` names that tag: the 304 is then the very
one the route would send. Everything else goes to the app untouched.

service.main.App asks here first, before FastAPI's own call (its OpenTelemetry check, its error
middleware) and service/middleware.py: a 304 runs no handler, reads no body and cannot time out,
so of that middleware's work it needs only the request id and the accounting (metrics and access
line, service/accounting.py); it is not counted in flight. Served, sitting in front of the
middleware halved a 304's CPU time; in front of FastAPI too, with requests accounted in batches,
it took a tenth more off (docs/benchmarks.md).
"""

import time

from starlette.types import Scope, Send

from service.caching import names
from service.context import AppContext
from service.middleware import choose_request_id


class Revalidations:
    def __init__(self, context: AppContext) -> None:
        self.tags = context.tags
        self.accounting = context.accounting

    async def answered(self, scope: Scope, send: Send) -> bool:
        """Send the 304 if ``scope`` revalidates a tagged URL with its tag; whether it did."""
        if scope["type"] != "http" or scope["method"] != "GET":
            return False
        issued = self.tags.get(scope["path"], scope["query_string"])
        if issued is None:
            return False
        start = time.perf_counter()
        sent = sent_id = None
        for name, value in scope["headers"]:
            if name == b"if-none-match":
                sent = sent or value  # the first, as the route reads it
            elif name == b"x-request-id":
                sent_id = value  # the last, as the middleware reads it
        if not (sent and names(sent.decode("latin-1"), issued.tag)):
            return False
        current = choose_request_id(sent_id)
        headers = [*issued.headers, (b"x-request-id", current.encode())]
        try:
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
        finally:  # a client gone before the end is accounted too, as the middleware does
            seconds = time.perf_counter() - start
            self.accounting(scope, issued.route, 304, seconds, current)
        return True
