"""`python -m service`: serve with uvicorn, as the settings say (host, port, workers, logs).

Each worker is a process that builds its app from the environment, hence the import string and
factory. With several workers, Prometheus samples go through files in a fresh temporary directory
that every worker writes and `/metrics` sums (see service/metrics.py); it is set before they start.
"""

import os
import tempfile
from contextlib import ExitStack
from typing import Any

import uvicorn
from pydantic import ValidationError

from service.logs import log_config
from service.settings import Settings, settings_error

APP = "service.main:create_app"


def main() -> None:
    try:
        settings = Settings()
    except ValidationError as error:
        raise SystemExit(f"genseq: {settings_error(error)}") from None
    with ExitStack() as stack:
        if settings.workers > 1:
            metrics_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="genseq-metrics-"))
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        logs = log_config(settings.log_level, settings.log_json)
        uvicorn.run(APP, **server_options(settings), log_config=logs)


def server_options(settings: Settings) -> dict[str, Any]:
    """How uvicorn runs an app factory here (the benchmark starts its baselines the same way)."""
    return {
        "factory": True,
        "host": settings.host,
        "port": settings.port,
        "workers": settings.workers,
        "timeout_graceful_shutdown": settings.graceful_shutdown_seconds,
        "access_log": False,  # service.middleware writes one line per request, with its id
    }


if __name__ == "__main__":
    main()
