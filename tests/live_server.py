"""`python -m service` as users start it, on a free port, for the tests that need a real server."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fetch(url: str, body: dict | None = None) -> tuple[int, bytes]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError:
        return 0, b""  # not listening yet


@contextmanager
def serving(
    log: Path, port: int | None = None, **settings: str
) -> Iterator[tuple[str, subprocess.Popen]]:
    """The server's base URL and process once `/ready` answers 200; ``settings`` are
    `GENSEQ_*` values (``workers="2"``). Stopped with SIGTERM, or killed if it hangs."""
    base = f"http://127.0.0.1:{port or free_port()}"
    env = {**os.environ, "GENSEQ_HOST": "127.0.0.1", "GENSEQ_PORT": base.rsplit(":", 1)[1]}
    env |= {f"GENSEQ_{name.upper()}": value for name, value in settings.items()}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "service"], env=env, stdout=out, stderr=out,
            start_new_session=True,  # its own process group: the workers go with it
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while fetch(f"{base}/ready")[0] != 200:
            assert time.monotonic() < deadline and server.poll() is None, log.read_text()
            time.sleep(0.2)
        yield base, server
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
