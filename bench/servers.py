"""The servers under test, each a subprocess on a free loopback port.

The service runs as `python -m service`; the bare floor (bench/bare.py) and the naive torch server
(bench/naive.py) run through :func:`serve`, which passes uvicorn what service/__main__.py does, read
from the same `GENSEQ_*` settings: same host, workers, loop and HTTP implementations (uvicorn's
"auto": uvloop and httptools), no uvicorn access log. Other frameworks (bench/peers/) start from
a :class:`Launch` of their own: another interpreter, environment and readiness route.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx2
import uvicorn

from bench.client import Stats, load
from bench.endpoints import Request
from service.__main__ import server_options
from service.settings import Settings

REPO = Path(__file__).resolve().parent.parent
MODULES = {"service": "service", "bare": "bench.bare", "naive": "bench.naive"}
READY_PATH = "/ready"  # the repository's servers answer it 200 once they can serve
STOP_SECONDS = 20.0
DRAIN_SECONDS = 600.0
STOPPED = {"T", "t", "Z", "X", None}  # stopped (t: by a tracer such as py-spy), dead or gone


def serve(app: str) -> None:
    """Run the ASGI app factory ``app`` with uvicorn as `python -m service` runs the service."""
    uvicorn.run(app, **server_options(Settings()))


@dataclass(frozen=True)
class Launch:
    """How to start a server: its command (which reads GENSEQ_HOST and GENSEQ_PORT), variables
    added to the environment, and a route it answers 200 once it can serve."""

    command: list[str]
    ready_path: str = READY_PATH
    env: dict[str, str] = field(default_factory=dict)


def ours(*kinds: str) -> dict[str, Launch]:
    """The repository's own servers of ``kinds``: `python -m <module>` in this interpreter."""
    return {kind: Launch([sys.executable, "-m", MODULES[kind]]) for kind in kinds}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    """A started server: its process, base URL, log file and readiness route."""

    kind: str
    process: subprocess.Popen
    url: str
    log: Path
    ready_path: str = READY_PATH

    def rss_kib(self) -> int:
        """Resident memory of the server and its worker processes (VmRSS, KiB)."""
        return sum(_vm_rss(pid) for pid in _tree(self.process.pid))

    def cpu_seconds(self) -> float:
        """User + system CPU time used so far by the server and its worker processes."""
        return sum(_cpu_seconds(pid) for pid in _tree(self.process.pid))

    def loop_cpu_seconds(self) -> float:
        """CPU time used so far by the process's first thread, where a one-worker uvicorn runs
        the event loop (its id is the process's)."""
        return _cpu_seconds(self.process.pid, thread=self.process.pid)

    def wait_ready(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.kind} exited with {self.process.returncode}; see {self.log}"
                )
            try:
                if httpx2.get(self.url + self.ready_path, timeout=2).status_code == 200:
                    return
            except httpx2.TransportError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"{self.kind} not ready at {self.url}; see {self.log}")

    def pause(self) -> None:
        """SIGSTOP to the server and its descendants, so that it takes no CPU while another is
        measured: LitServe's idle processes poll their queues (`python -m bench` reports the
        cores each server uses idle). Returns once every one has stopped: a signal is delivered
        when the kernel next schedules the process, not when it is sent."""
        pids = self._signal(signal.SIGSTOP)
        deadline = time.monotonic() + STOP_SECONDS
        while any(_state(pid) not in STOPPED for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.001)

    def resume(self) -> None:
        self._signal(signal.SIGCONT)

    def _signal(self, number: int) -> list[int]:
        pids = _tree(self.process.pid)
        for pid in pids:
            with suppress(ProcessLookupError):
                os.kill(pid, number)
        return pids

    def drain(self) -> httpx2.Response:
        """Wait until requests left over from a load phase are answered; return the readiness
        route's answer.

        A client that stops does not stop the work it sent, and the naive server would spend the
        next phase on it: it answers /ready only after the requests queued on its event loop. The
        others finish their leftovers within milliseconds.
        """
        return httpx2.get(self.url + self.ready_path, timeout=DRAIN_SECONDS)

    def stop(self) -> None:
        """SIGTERM to the server (uvicorn and BentoML's arbiter shut down gracefully), then
        SIGKILL to whatever is left of its process group and of its descendants; returns when
        they are gone.

        Descendants are looked up first: LitServe's main process dies of SIGTERM at once and
        leaves its workers behind in the group, and BentoML's arbiter starts its workers in
        sessions of their own, outside the group.
        """
        descendants = {pid: _started(pid) for pid in _tree(self.process.pid)[1:]}
        self.resume()  # a paused process would hold SIGTERM until continued
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            with suppress(subprocess.TimeoutExpired):
                self.process.wait(STOP_SECONDS)
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

        def left() -> list[int]:  # the same processes, not later ones given their numbers
            return [p for p, started in descendants.items() if started and _started(p) == started]

        for pid in left():
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + STOP_SECONDS
        while left() and time.monotonic() < deadline:
            time.sleep(0.05)


def measured_load(
    server: Server, engine: str, request: Request, concurrency: int, seconds: int
) -> Stats:
    """A second of warm-up, then ``seconds`` of ``request`` at ``concurrency``; the stats carry
    the CPU time the server used during the measured part (the tools that load servers in turns)."""
    load(engine, server.url, [request], concurrency, 1)
    before = server.cpu_seconds()
    stats = load(engine, server.url, [request], concurrency, seconds)
    return replace(stats, cpu_seconds=server.cpu_seconds() - before)


@contextmanager
def running(
    launches: dict[str, Launch], log_dir: Path, ready_seconds: float = 180.0
) -> Iterator[dict[str, Server]]:
    """Start the servers of ``launches`` (by kind) at once (they load in parallel), yield them
    when all are ready, and stop every one of them whatever happens."""
    servers: dict[str, Server] = {}
    try:
        for kind, launch in launches.items():
            port = free_port()
            env = {**os.environ, **launch.env, "GENSEQ_HOST": "127.0.0.1", "GENSEQ_PORT": str(port)}
            log = log_dir / f"{kind}.log"
            with log.open("wb") as out:  # the child keeps its own handle
                process = subprocess.Popen(
                    launch.command,
                    cwd=REPO,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # its own group: a Ctrl-C reaches only us, we stop it
                )
            url = f"http://127.0.0.1:{port}"
            servers[kind] = Server(kind, process, url, log, launch.ready_path)
        deadline = time.monotonic() + ready_seconds
        for server in servers.values():
            server.wait_ready(deadline)
        yield servers
    finally:
        for server in servers.values():
            server.stop()


def _tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (uvicorn's workers, if any)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                todo += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
    return found


def _stat(pid: int, thread: int | None = None) -> list[str]:
    """The fields of ``/proc/<pid>/stat`` (or of one of its threads) after the command name
    (which may hold spaces): the state first; none once the process is gone."""
    path = f"/proc/{pid}/stat" if thread is None else f"/proc/{pid}/task/{thread}/stat"
    try:
        return Path(path).read_text().rsplit(")", 1)[1].split()
    except OSError:
        return []


def _state(pid: int) -> str | None:
    """R running, S sleeping, T stopped, Z zombie...; None once gone."""
    fields = _stat(pid)
    return fields[0] if fields else None


def _started(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks since boot), which tells it from a later one
    given the same number; None once it is gone or dead (a zombie)."""
    fields = _stat(pid)
    return None if not fields or fields[0] in "ZX" else int(fields[19])


def _vm_rss(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    line = next((x for x in status.splitlines() if x.startswith("VmRSS:")), "VmRSS: 0 kB")
    return int(line.split()[1])


def _cpu_seconds(pid: int, thread: int | None = None) -> float:
    fields = _stat(pid, thread)
    ticks = int(fields[11]) + int(fields[12]) if fields else 0  # utime + stime
    return ticks / os.sysconf("SC_CLK_TCK")
