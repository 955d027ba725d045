"""Every request's last step, its count and time in the metrics and its access line, done in
batches.

A finished request leaves only its fields (a tuple on a list); every ``BATCH`` requests, or
``BATCH_SECONDS`` after the first of a batch, the batch goes to the metrics and the access log in
one go, so their code runs back to back while it is hot in the caches, rather than once between
each request's own work: with service/revalidation.py moved ahead of FastAPI in the same change,
a served 304 cost a tenth less CPU (docs/benchmarks.md). Outside an event loop (a test calling
the app directly) a request is accounted at once.

A scrape of `/metrics` flushes first, so it counts every request this process finished before
it; with several workers, the other workers' last batch reaches it up to ``BATCH_SECONDS`` late.
"""

import asyncio
import time

from starlette.types import Scope

from service.access_log import AccessLog
from service.metrics import UNMATCHED, Metrics

BATCH = 16
BATCH_SECONDS = 0.05


class Accounting:
    def __init__(self, metrics: Metrics, access: AccessLog | None) -> None:
        self.metrics = metrics
        self.access = access  # None when the log level is above info
        # Each request's end (time.time()), method, route template (None if no route matched),
        # raw path, status, seconds and id: a plain tuple, a fifth of a NamedTuple's cost to make.
        self.pending: list[tuple[float, str, str | None, str, int, float, str]] = []
        self.timer: asyncio.TimerHandle | None = None

    def __call__(
        self, scope: Scope, route: str | None, status: int, seconds: float, request_id: str
    ) -> None:
        """Account the request of ``scope``: at once outside an event loop, else with its batch."""
        finished = (time.time(), scope["method"], route, scope["path"], status, seconds, request_id)
        self.pending.append(finished)
        if len(self.pending) >= BATCH:
            self.flush()
        elif self.timer is None:  # else a timer is due, so a loop runs
            try:
                self.timer = asyncio.get_running_loop().call_later(BATCH_SECONDS, self.flush)
            except RuntimeError:
                self.flush()

    def flush(self) -> None:
        """Account what is pending (also before a scrape and when the app stops)."""
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if not self.pending:
            return
        finished, self.pending = self.pending, []
        observe = self.metrics.observe
        for _, method, route, _, status, seconds, _ in finished:
            observe(method, route or UNMATCHED, status, seconds)
        if self.access is not None:
            line = self.access.line
            self.access.write("".join([
                line(now, method, route or path, status, seconds, request_id)
                for now, method, route, path, status, seconds, request_id in finished
            ]))  # fmt: skip
