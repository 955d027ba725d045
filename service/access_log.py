"""The access line, one a request, written without the logging machinery.

Through ``logging`` each line cost ~31 us of the event loop (a record, a formatter, a handler
lock, a write and a flush); here lines are formatted with the very keys and layout of
service.logs (JSON or plain) and written to stderr a batch at a time, as service/accounting.py
gathers them: 3-5 us a line by machine (``python -m bench.access_line``).
The other lines (uvicorn's, warnings, tracebacks) still go through ``logging``.
"""

import json
import os
import re
import sys
import time
from collections.abc import Callable

from service.logs import ACCESS_LOGGER

# What JSON can hold between quotes as it is: printable ASCII but '"' and '\'.
_PLAIN_JSON = re.compile(r"[ !#-\[\]-~]*")
JSON_LINE = (
    '{"time": "%s", "level": "INFO", "logger": "' + ACCESS_LOGGER + '", "pid": %d, '
    '"message": %s, "request_id": %s, "method": %s, "path": %s, "status": %d, '
    '"duration_ms": %r}\n'
)
PLAIN_LINE = "%s INFO " + ACCESS_LOGGER + " %s\n"  # service.logs.PLAIN's layout
MESSAGE = "%s %s %d %.1f ms request_id=%s"


def _stderr(text: str) -> None:
    sys.stderr.write(text)  # looked up each time: a test or a server may swap sys.stderr
    sys.stderr.flush()


class AccessLog:
    """Formats access lines; ``write`` receives the joined text of a batch of them."""

    def __init__(self, json_lines: bool, write: Callable[[str], None] | None = None) -> None:
        self.json_lines = json_lines
        self.write = write or _stderr
        self.pid = os.getpid()
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
        texts = (message, request_id, method, path)
        if _PLAIN_JSON.fullmatch(message):  # the common case; and the message holds the others
            quoted = [f'"{text}"' for text in texts]
        else:
            quoted = [json.dumps(text) for text in texts]
        return JSON_LINE % (stamp, self.pid, *quoted, status, duration_ms)
