"""`python -m bench.switch_interval`: does the GIL's switch interval limit the service?

A request's model run happens in a worker thread with the GIL released; the thread then needs
the GIL back to hand over its answer, while the event loop thread may be busy with other
requests' HTTP. CPython makes a waiting thread wait up to the switch interval (5 ms by default)
before the holder must let go. This starts one service per interval (all at once, same models),
loads each endpoint on each of them in turn, interleaved over ``--rounds``, and prints requests/s
and the server's CPU ms per request side by side.

    .venv/bin/python -m bench.switch_interval --intervals 5 1 0.5 --endpoints image text sample
"""

import argparse
import sys
import tempfile
from pathlib import Path

from bench import client
from bench.endpoints import ENDPOINTS, build
from bench.servers import Launch, running

# The service as `python -m service` runs it, after sys.setswitchinterval.
LAUNCHER = (
    "import runpy, sys; sys.setswitchinterval(float(sys.argv[1]) / 1000); "
    "runpy.run_module('service', run_name='__main__', alter_sys=True)"
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.switch_interval", description=__doc__)
    parser.add_argument("--intervals", type=float, nargs="+", default=[5.0, 1.0, 0.5], help="ms")
    parser.add_argument(
        "--endpoints", nargs="+", choices=list(ENDPOINTS), default=["image", "text"]
    )
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    if min(args.intervals) <= 0:
        parser.error("intervals must be > 0 ms")
    endpoints = build(args.endpoints)
    engine = client.engines()[0]
    launches = {
        f"{ms:g} ms": Launch([sys.executable, "-c", LAUNCHER, str(ms)]) for ms in args.intervals
    }
    results: dict[tuple[str, str], list[client.Stats]] = {}
    with tempfile.TemporaryDirectory() as logs, running(launches, Path(logs)) as servers:
        for _ in range(args.rounds):
            for name, endpoint in endpoints.items():
                for kind, server in servers.items():
                    client.load(engine, server.url, [endpoint.request], args.concurrency, 1)
                    before = server.cpu_seconds()
                    stats = client.load(
                        engine, server.url, [endpoint.request], args.concurrency, args.seconds
                    )
                    cpu = server.cpu_seconds() - before
                    results.setdefault((name, kind), []).append(
                        client.Stats(
                            stats.requests,
                            stats.errors,
                            stats.seconds,
                            stats.p50_ms,
                            stats.p99_ms,
                            cpu,
                        )  # fmt: skip
                    )
    print(
        f"c={args.concurrency}, {args.seconds} s per cell, {args.rounds} rounds ({engine} client)\n"
    )
    print("| endpoint | switch interval | rps (each round) | p50 / p99 ms | CPU ms/request |")
    print("|---|---:|---:|---:|---:|")
    for (name, kind), runs in results.items():
        rps = " / ".join(f"{s.rps:,.0f}" for s in runs)
        p50 = " / ".join(f"{s.p50_ms:.1f}, {s.p99_ms:.1f}" for s in runs)
        cpu = " / ".join(f"{s.cpu_ms_per_request:.3f}" for s in runs)
        print(f"| {endpoints[name].name} | {kind} | {rps} | {p50} | {cpu} |")


if __name__ == "__main__":
    main()
