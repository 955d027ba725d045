"""Logging set-up: uvicorn's lines and the service's own, one JSON object a line (or plain text).

`python -m service` hands `log_config` to uvicorn, which applies it in every worker process. A
line written while a request is served carries its id (`request_id`, set by service.middleware).
"""

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

ACCESS_LOGGER = "genseq.access"
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
# Fields a record may carry (as `extra`) that become keys of its JSON line.
FIELDS = ("request_id", "method", "path", "status", "duration_ms")
PLAIN = "%(asctime)s %(levelname)s %(name)s %(message)s"


class JsonFormatter(logging.Formatter):
    """time (UTC, ms), level, logger, pid (which worker), message, the request fields, and a
    traceback if any."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,
            "message": record.getMessage(),
        }
        current = request_id.get()
        if current is not None:
            entry["request_id"] = current
        entry.update({f: getattr(record, f) for f in FIELDS if hasattr(record, f)})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def log_config(level: str, json_lines: bool) -> dict[str, Any]:
    """A `logging.config.dictConfig` dict: every logger through one stderr handler and format."""
    formatter = {"()": JsonFormatter} if json_lines else {"format": PLAIN}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": formatter},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "default",
            }
        },
        "root": {"handlers": ["stderr"], "level": level.upper()},
    }
