"""Closed-loop load: ``concurrency`` connections, each sending its next request as soon as the
previous answer is in, for a fixed time; requests per second and latency percentiles.

Two engines give the same :class:`Stats`: wrk (Debian's `wrk`, C, one thread), used when it is
installed because a Python client on these 2 cores saturates far below uvicorn (measured: about
1,700 against 11,000 requests/s, and each run measures it again); and an asyncio client on httpx2
with a connection pool sized to the concurrency, which needs nothing but the dev extra.
"""

import argparse
import asyncio
import json
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx2
import numpy as np

from bench.endpoints import Request

WRK_TIMEOUT = "120s"  # wrk's default of 2 s would drop the naive server's slow answers at c=64


@dataclass(frozen=True)
class Stats:
    """One measurement: successful requests, failures, wall time, latency percentiles (ms), and
    the CPU time the server used meanwhile (steadier than rps on a shared machine)."""

    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    cpu_seconds: float | None = None

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def cpu_ms_per_request(self) -> float:
        if self.cpu_seconds is None or not self.requests:
            return float("nan")
        return self.cpu_seconds / self.requests * 1e3

    @property
    def cores(self) -> float:
        """How many cores the server kept busy on average; what it left of the machine's went
        to the client, the host, or stood idle."""
        if self.cpu_seconds is None or not self.seconds:
            return float("nan")
        return self.cpu_seconds / self.seconds


def add_turn_options(parser: argparse.ArgumentParser, seconds: int, rounds: int, of: str) -> None:
    """The options of a tool that loads a few servers in turns: ``of`` names what is turned."""
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=seconds, help="per measurement")
    parser.add_argument("--rounds", type=int, default=rounds, help=f"turns of {of}")


def parse_turn_options(
    parser: argparse.ArgumentParser, argv: list[str] | None
) -> argparse.Namespace:
    args = parser.parse_args(argv)
    if min(args.concurrency, args.seconds, args.rounds) < 1:
        parser.error("--concurrency, --seconds and --rounds take 1 or more")
    return args


def engines() -> list[str]:
    return (["wrk"] if shutil.which("wrk") else []) + ["python"]


def load(engine: str, url: str, requests: list[Request], concurrency: int, seconds: int) -> Stats:
    """Send ``requests`` (in turn, per connection) to ``url`` for ``seconds``."""
    if engine == "wrk":
        return _wrk(url, requests, concurrency, seconds)
    return asyncio.run(_python(url, requests, concurrency, seconds))


async def _python(url: str, requests: list[Request], concurrency: int, seconds: int) -> Stats:
    limits = httpx2.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    latencies: list[float] = []
    errors = 0
    async with httpx2.AsyncClient(base_url=url, limits=limits, timeout=120) as client:

        async def connection(offset: int) -> None:
            nonlocal errors
            turn = offset
            while time.perf_counter() < deadline:
                request = requests[turn % len(requests)]
                turn += 1
                sent = time.perf_counter()
                try:
                    response = await client.request(
                        request.method, request.path, content=request.body, headers=request.headers
                    )
                except httpx2.HTTPError:
                    errors += 1
                    continue
                if response.status_code < 400:  # as wrk counts: a 304 is an answer
                    latencies.append(time.perf_counter() - sent)
                else:
                    errors += 1

        started = time.perf_counter()
        deadline = started + seconds
        await asyncio.gather(*(connection(i) for i in range(concurrency)))
        elapsed = time.perf_counter() - started
    return summarize(np.array(latencies) * 1e3, errors, elapsed)


def summarize(latencies_ms: np.ndarray, errors: int, seconds: float) -> Stats:
    """Stats of successful requests' latencies (ms), however they were measured."""
    p50, p99 = np.percentile(latencies_ms, [50, 99]) if len(latencies_ms) else (np.nan, np.nan)
    return Stats(len(latencies_ms), errors, seconds, float(p50), float(p99))


# A wrk script: the requests pre-formatted once per thread, sent in turn; a JSON summary at the end.
_WRK_SCRIPT = """
local specs = {%s}
local formatted = {}
local turn = 0
function init(args)
  for i, s in ipairs(specs) do formatted[i] = wrk.format(s[1], s[2], s[3], s[4]) end
end
function request()
  turn = turn %% #formatted + 1
  return formatted[turn]
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %%d, "duration_us": %%d, "status_errors": %%d, "socket_errors": %%d,'
    .. ' "p50_us": %%d, "p99_us": %%d}\\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def _lua_string(data: bytes) -> str:
    return '"' + "".join(f"\\{b:03d}" for b in data) + '"'


def _lua_request(request: Request) -> str:
    headers = ", ".join(f"[{_lua_string(k.encode())}] = {_lua_string(v.encode())}"
                        for k, v in request.headers.items())  # fmt: skip
    body = _lua_string(request.body) if request.body else "nil"
    return f'{{"{request.method}", {_lua_string(request.path.encode())}, {{{headers}}}, {body}}}'


def _wrk(url: str, requests: list[Request], concurrency: int, seconds: int) -> Stats:
    script = _WRK_SCRIPT % ", ".join(_lua_request(r) for r in requests)
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as folder:
        path = Path(folder) / "requests.lua"
        path.write_text(script)
        done = subprocess.run(
            ["wrk", "-t1", f"-c{concurrency}", f"-d{seconds}s", f"--timeout={WRK_TIMEOUT}",
             "-s", str(path), url],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
    line = next(x for x in done.stdout.splitlines() if x.startswith("WRK_JSON "))
    summary = json.loads(line.removeprefix("WRK_JSON "))
    # wrk counts a 4xx/5xx as a request, with its latency; here it is an error, not a request.
    errors = summary["status_errors"] + summary["socket_errors"]
    return Stats(
        summary["requests"] - summary["status_errors"],
        errors,
        summary["duration_us"] / 1e6,
        summary["p50_us"] / 1e3,
        summary["p99_us"] / 1e3,
    )
