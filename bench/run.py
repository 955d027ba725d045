"""One benchmark run: start the servers, measure every cell side by side, soak, stop.

For each concurrency the HTTP floor is measured first, then each endpoint on the service, on the
peers that serve it (with --peers: LitServe and BentoML, bench/peers/), on the naive torch server
and on raw onnxruntime, one right after the other: the machine is shared and its load drifts, so
only numbers taken close together are compared. Each measurement has the machine to itself: the
servers not measured are paused (SIGSTOP), since some take CPU even idle (LitServe's processes
poll their queues); how much each takes idle is measured first and reported.

With ``--rounds N`` the cells are measured N times over, round after round: the tables show each
server's median round (the 304s' pairs likewise, by CPU a request), and each goal is the median of
its ratio over the rounds, every ratio of two cells measured side by side. The ratios of one round
move by a tenth with the neighbours' load.
"""

import os
import platform
import subprocess
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from importlib.metadata import version
from operator import itemgetter
from pathlib import Path

import httpx2

from bench import client, raw_ort
from bench.client import Stats
from bench.endpoints import ENDPOINTS, Endpoint, Request, build
from bench.peers import launch, venvs
from bench.servers import REPO, Server, ours, running
from service.settings import Settings, usable_cores

SOAK_CONCURRENCY = 64
REVALIDATION_CONCURRENCY = 8
Log = Callable[[str], None]


@dataclass(frozen=True)
class Options:
    endpoints: tuple[str, ...] = tuple(ENDPOINTS)
    concurrency: tuple[int, ...] = (1, 8, 64)
    duration: int = 10  # seconds per measured cell
    warmup: int = 2  # seconds of the same load before each HTTP cell, not counted
    soak: int = 60  # seconds of mixed load at c=64 between the two memory readings (0: none)
    engine: str = field(default_factory=lambda: client.engines()[0])  # see bench/client.py
    out: Path = REPO / "bench"
    command: str = "python -m bench"
    peers: bool = False  # also LitServe and BentoML, each in its venv (bench/peers/)
    rounds: int = 1  # times every cell is measured, in turn (the goals: each ratio's median)


@dataclass
class Cell:
    """One endpoint at one concurrency on every server; raw ORT with ``ort_threads`` callers."""

    endpoint: str
    concurrency: int
    service: Stats
    naive: Stats
    ort: Stats
    ort_threads: int
    peers: dict[str, Stats] = field(default_factory=dict)  # those that serve the endpoint


@dataclass
class Memory:
    """VmRSS of the service (KiB): after start, before and after the soak, and the soak's load."""

    start_kib: int
    before_soak_kib: int
    after_soak_kib: int
    soak_seconds: int
    soak: Stats | None


@dataclass
class Round:
    """One round's floor and cells, kept when a run makes several (--rounds): each goal is the
    median over the rounds of its ratio, each ratio of cells measured side by side."""

    floor: dict[int, Stats]
    cells: list[Cell]


@dataclass
class Results:
    options: Options
    machine: dict[str, object]
    endpoints: dict[str, dict[str, object]]
    floor: dict[int, Stats] = field(default_factory=dict)
    cells: list[Cell] = field(default_factory=list)
    client_check: dict[int, Stats] = field(default_factory=dict)  # the floor, python client
    memory: Memory | None = None
    revalidation: Stats | None = None  # the service's 304s to a repeated GET /sample, c=8
    revalidation_floor: Stats | None = None  # the bare server's, the same way
    pids: dict[str, int] = field(default_factory=dict)
    rounds: list[Round] = field(default_factory=list)  # with --rounds N > 1: every round


def run(options: Options, log: Log = print) -> Results:
    """Measure everything ``options`` asks for; ``log`` gets one line per finished cell."""
    settings = Settings()
    chosen = build(options.endpoints)
    results = Results(options, machine_info(settings, options.engine), describe(chosen))
    slots = settings.max_concurrent_inference
    sessions = {
        key: raw_ort.session(settings.models_dir, e.model, settings.ort_intra_op_threads)
        for key, e in chosen.items()
    }
    feeds = {key: e.feeds(sessions[key][1]) for key, e in chosen.items()}
    launches = ours("service", "naive", "bare")
    if options.peers:
        launches |= launch.launches(log)
        results.machine["peers"] = {name: venvs.requirements(name) for name in launch.PEERS}
    with (
        tempfile.TemporaryDirectory(prefix="bench-logs-") as logs,
        running(launches, Path(logs)) as servers,
    ):
        results.pids = {kind: server.process.pid for kind, server in servers.items()}
        results.machine["naive_torch_threads"] = servers["naive"].drain().json()["torch_threads"]
        start_kib = servers["service"].rss_kib()
        results.machine["idle_cores"] = idle_cores(servers, options.duration)
        for server in servers.values():
            server.pause()

        def measure(kind: str, name: str, request: Request, c: int) -> Stats:
            with alone(servers[kind]) as server:
                if options.warmup:
                    client.load(options.engine, server.url, [request], c, options.warmup)
                    server.drain()
                cpu = server.cpu_seconds()
                stats = client.load(options.engine, server.url, [request], c, options.duration)
                stats = replace(stats, cpu_seconds=server.cpu_seconds() - cpu)
                server.drain()
            log(f"{kind:8} {name:28} c={c:<3} {format_stats(stats)}")
            return stats

        text = chosen.get("text") or build(["text"])["text"]  # the floor answers this request
        peers = launch.PEERS if options.peers else {}
        rounds: dict[tuple[str, str, int], list[Stats]] = defaultdict(list)  # (who, what, c)

        def one_round(c: int) -> None:
            """Each server at concurrency ``c`` once, the floor first, in the report's order."""
            rounds["bare", "text", c].append(measure("bare", text.name, text.request, c))
            for key, e in chosen.items():
                rounds["service", key, c].append(measure("service", e.name, e.request, c))
                for peer, p in peers.items():
                    if key in p.requests:
                        rounds[peer, key, c].append(measure(peer, e.name, p.requests[key], c))
                rounds["naive", key, c].append(measure("naive", e.name, e.request, c))
                threads = min(c, slots)
                ort = raw_ort.measure(sessions[key][0], feeds[key], threads, options.duration)
                log(f"{'raw ORT':8} {e.name:28} t={threads:<3} {format_stats(ort)}")
                rounds["ort", key, c].append(ort)

        for _ in range(options.rounds):  # whole rounds in turn: the drift hits every server alike
            for c in options.concurrency:
                one_round(c)

        def cell(key: str, c: int, pick: Callable[[list[Stats]], Stats]) -> Cell:
            """Endpoint ``key`` at ``c`` on every server, each server's round chosen by ``pick``."""
            service, naive, ort = (pick(rounds[who, key, c]) for who in ("service", "naive", "ort"))
            on_peers = {peer: pick(rounds[peer, key, c]) for peer, p in peers.items()
                        if key in p.requests}  # fmt: skip
            return Cell(key, c, service, naive, ort, min(c, slots), on_peers)

        for c in options.concurrency:
            results.floor[c] = middle(rounds["bare", "text", c])
            results.cells += [cell(key, c, middle) for key in chosen]
        if options.rounds > 1:
            results.rounds = [
                Round({c: rounds["bare", "text", c][r] for c in options.concurrency},
                      [cell(key, c, itemgetter(r)) for c in options.concurrency for key in chosen])
                for r in range(options.rounds)
            ]  # fmt: skip
        if options.engine != "python":  # is the Python client a bottleneck? the floor says
            top = max(options.concurrency)
            with alone(servers["bare"]) as bare:
                check = client.load("python", bare.url, [text.request], top, options.duration)
            log(f"{'bare':8} {'with the Python client':28} c={top:<3} {format_stats(check)}")
            results.client_check[top] = check
        if "sample" in chosen:  # a repeated GET with its tag: the bare server's 304s, then ours

            def revalidations(kind: str) -> Stats:
                with alone(servers[kind]) as server:
                    again = revalidation(server, chosen["sample"].request)
                return measure(kind, "GET /sample, If-None-Match", again, REVALIDATION_CONCURRENCY)

            pairs = [
                (revalidations("bare"), revalidations("service")) for _ in range(options.rounds)
            ]
            results.revalidation_floor = middle([bare for bare, _ in pairs], by_cpu)
            results.revalidation = middle([ours for _, ours in pairs], by_cpu)
        with alone(servers["service"]) as service:
            results.memory = soak(service, chosen, start_kib, options, log)
    results.machine["load_average_end"] = os.getloadavg()
    return results


def by_rps(stats: Stats) -> float:
    return stats.rps


def by_cpu(stats: Stats) -> float:
    """A 304 is judged by its CPU: the costlier, the worse."""
    return -stats.cpu_ms_per_request


def middle(rounds: list[Stats], better: Callable[[Stats], float] = by_rps) -> Stats:
    """The median round by ``better`` (of two middle ones, the worse): one measurement as it
    was taken, its latencies and CPU with it."""
    return sorted(rounds, key=better)[(len(rounds) - 1) // 2]


def idle_cores(servers: dict[str, Server], seconds: float) -> dict[str, float]:
    """The cores each started server uses with no request to answer, over ``seconds``: what it
    would take from the others' measurements if it were not paused."""
    before = {kind: server.cpu_seconds() for kind, server in servers.items()}
    time.sleep(seconds)
    return {kind: round((server.cpu_seconds() - before[kind]) / seconds, 3)
            for kind, server in servers.items()}  # fmt: skip


@contextmanager
def alone(server: Server) -> Iterator[Server]:
    """``server`` running, the others staying paused, for one measurement; paused again after."""
    server.resume()
    try:
        yield server
    finally:
        server.pause()


def revalidation(server: Server, request: Request) -> Request:
    """``request`` (a GET) again, with the tag the server answered it with in If-None-Match;
    checked to be answered 304, so that a load of it measures nothing else."""
    tag = httpx2.get(server.url + request.path).headers["etag"]
    again = replace(request, headers={**request.headers, "if-none-match": tag})
    status = httpx2.get(server.url + request.path, headers=again.headers).status_code
    if status != 304:
        raise RuntimeError(f"{request.path} with its own tag: {status}, not 304")
    return again


def soak(
    server: Server, chosen: dict[str, Endpoint], start_kib: int, options: Options, log: Log
) -> Memory:
    """Mixed load on every chosen endpoint at c=64 for ``options.soak`` seconds, RSS around it."""
    before = server.rss_kib()
    stats = None
    if options.soak:
        requests = [e.request for e in chosen.values()]
        stats = client.load(options.engine, server.url, requests, SOAK_CONCURRENCY, options.soak)
        log(f"soak     {'all endpoints, in turn':28} c={SOAK_CONCURRENCY:<3} {format_stats(stats)}")
    return Memory(start_kib, before, server.rss_kib(), options.soak, stats)


def format_stats(stats: Stats) -> str:
    errors = f", {stats.errors} errors" if stats.errors else ""
    return f"{stats.rps:9.1f}/s  p50 {stats.p50_ms:8.2f} ms  p99 {stats.p99_ms:8.2f} ms{errors}"


def describe(chosen: dict[str, Endpoint]) -> dict[str, dict[str, object]]:
    return {
        key: {"name": e.name, "model": e.model, "items": e.items, "unit": e.unit}
        for key, e in chosen.items()
    }


def machine_info(settings: Settings, engine: str) -> dict[str, object]:
    """What the numbers depend on: the machine, its load now, the software, the settings."""
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor(),
    )  # fmt: skip
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                            capture_output=True, text=True).stdout.strip()  # fmt: skip
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "usable_cores": usable_cores(),
        "load_average_start": os.getloadavg(),
        "python": platform.python_version(),
        "packages": {p: version(p) for p in ("onnxruntime", "torch", "fastapi", "uvicorn")},
        "client": engine,
        "workers": settings.workers,
        "inference_slots": settings.max_concurrent_inference,
        "ort_intra_op_threads": settings.ort_intra_op_threads,
        "commit": commit,
    }
