"""`python -m service` as users start it, on a free port, for the tests that need a real server."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
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


def statuses_under_load(
    url: str, during: Callable[[], None], clients: int = 4, turns: int = 500, after: int = 400
) -> list[int]:
    """The status of each of ``clients`` x ``turns`` queries to ``url``/solve/text, sent by
    ``clients`` threads at once; ``during()`` runs once ``after`` of them have answered (the
    fault to inject). 0 stands for a request that got no HTTP answer at all."""
    statuses: list[int] = []
    lock = threading.Lock()

    def client() -> None:
        for i in range(turns):
            body = json.dumps({"query": f"{i % 100}+{i % 7}"}).encode()
            request = urllib.request.Request(
                f"{url}/solve/text", body, {"Content-Type": "application/json"}
            )
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    status = response.status
            except urllib.error.HTTPError as error:
                status = error.code
            except OSError:
                status = 0
            with lock:
                statuses.append(status)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    while len(statuses) < after and any(t.is_alive() for t in threads):
        time.sleep(0.01)
    during()
    for thread in threads:
        thread.join()
    return statuses
