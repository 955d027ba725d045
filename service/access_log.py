"""The access line, one a request, written without the logging machinery.

Through ``logging`` each line cost ~31 us of the event loop (a record, a formatter, a handler
lock, a write and a flush); here a request leaves only its fields, and lines are formatted with
the very keys and layout of service.logs (JSON or plain) and written to stderr in batches (at
most ``BATCH_LINES`` lines or ``BATCH_SECONDS`` late): 3-5 us by machine (``python -m
bench.access_line``: 3 on the Xeon, 5.1 on the AMD EPYC).
Formatting a batch in one go, rather than each line as its request ends, keeps that code hot
in the caches between the requests' own work.
The other lines (uvicorn's, warnings, tracebacks) still go through ``logging``.
"""

import asyncio
import json
import os
import re
import sys
import time
from collections.abc import Callable

from service.logs import ACCESS_LOGGER

BATCH_LINES = 16
BATCH_SECONDS = 0.05
# What JSON can hold between quotes as it is: printable ASCII but '"' and '\'.
_PLAIN_JSON = re.compile(r"[ !#-\[\]-~]*")
JSON_LINE = (
    '{"time": "%s", "level": "INFO", "logger": "' + ACCESS_LOGGER + '", "pid": %d, '
    '"message": %s, "request_id": %s, "method": %s, "path": %s, "status": %d, '
    '"duration_ms": %r}\n'
)
PLAIN_LINE = "%s INFO " + ACCESS_LOGGER + " %s\n"  # service.logs.PLAIN's layout
MESSAGE = "%s %s %d %.1f ms request_id=%s"


def json_text(text: str) -> str:
    """``text`` as a JSON string; the common case (a route, an id) needs no escaping."""
    return f'"{text}"' if _PLAIN_JSON.fullmatch(text) else json.dumps(text)


def _stderr(text: str) -> None:
    sys.stderr.write(text)  # looked up each time: a test or a server may swap sys.stderr
    sys.stderr.flush()


class AccessLog:
    """Formats and batches access lines; ``write`` receives the joined text of a batch."""

    def __init__(self, json_lines: bool, write: Callable[[str], None] | None = None) -> None:
        self.json_lines = json_lines
        self.write = write or _stderr
        self.pid = os.getpid()
        self.pending: list[tuple] = []  # each request's fields, formatted at the flush
        self.timer: asyncio.TimerHandle | None = None
        self._second = -1
        self._stamp = ""

    def stamp(self, now: float) -> str:
        """The time as service.logs writes it, its formatting done once a second."""
        second = int(now)
        if second != self._second:
            self._second = second
            if self.json_lines:
                self._stamp = time.strftime("%Y-%m-%dT%H:%M:%S.%%03d+00:00", time.gmtime(now))
            else:
                self._stamp = time.strftime("%Y-%m-%d %H:%M:%S,%%03d", time.localtime(now))
        return self._stamp % int((now - second) * 1000)

    def line(
        self, now: float, method: str, path: str, status: int, seconds: float, request_id: str
    ) -> str:
        duration_ms = round(seconds * 1000, 3)
        message = MESSAGE % (method, path, status, duration_ms, request_id)
        stamp = self.stamp(now)
        if not self.json_lines:
            return PLAIN_LINE % (stamp, message)
        return JSON_LINE % (stamp, self.pid, json_text(message), json_text(request_id),
                            json_text(method), json_text(path), status, duration_ms)  # fmt: skip

    def __call__(
        self, method: str, path: str, status: int, seconds: float, request_id: str
    ) -> None:
        """Log one request; written at once outside an event loop, else with its batch."""
        self.pending.append((time.time(), method, path, status, seconds, request_id))
        if len(self.pending) >= BATCH_LINES:
            self.flush()
        elif self.timer is None:  # else a timer is due, so a loop runs
            try:
                self.timer = asyncio.get_running_loop().call_later(BATCH_SECONDS, self.flush)
            except RuntimeError:
                self.flush()

    def flush(self) -> None:
        """Write what is pending (also called when the app stops)."""
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.pending:
            records, self.pending = self.pending, []
            self.write("".join([self.line(*record) for record in records]))
