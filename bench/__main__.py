"""`python -m bench`: the load benchmark, every endpoint against the three baselines, in one run.

    .venv/bin/python -m bench                 # 10 s per cell, a 60 s soak: about 11 minutes
    .venv/bin/python -m bench --soak 300      # the run in docs/benchmarks.md (20 min)
    .venv/bin/python -m bench --quick         # about a minute: 1 s per cell, a 5 s soak
    .venv/bin/python -m bench --peers         # LitServe and BentoML on text and sample too
    .venv/bin/python -m bench --rounds 3      # every cell three times, in turn; goals: medians

The load generator is Debian's wrk where installed (`apt-get install wrk`), else a Python client
that saturates far below the HTTP floor. Prints one line per measurement, then the tables; writes
bench/results.md and results.json. GENSEQ_* variables configure the service, the baselines
and the peers alike; OMP_NUM_THREADS sets the naive server's torch threads.
"""

import argparse
import os
import shlex
import signal
import sys
from pathlib import Path

from bench import client
from bench.report import CLIENT_CAPPED, markdown, write
from bench.run import Options, run


def parse(argv: list[str]) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__.split("\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    defaults = Options()
    add = parser.add_argument
    add("--duration", type=int, default=defaults.duration, help="seconds per measured cell")
    add("--warmup", type=int, default=defaults.warmup, help="seconds of load before each cell")
    add("--soak", type=int, default=defaults.soak, help="seconds of c=64 load between RSS readings")
    add("--quick", action="store_true", help="smoke run: 1 s cells, no warm-up, 5 s soak")
    add("--concurrency", type=int, nargs="+", default=list(defaults.concurrency))
    add("--endpoints", nargs="+", choices=defaults.endpoints, default=list(defaults.endpoints))
    add("--client", choices=client.engines(), default=defaults.engine, help="load generator")
    add("--out", type=Path, default=defaults.out, help="folder for results.md and results.json")
    add("--peers", action="store_true",
        help="also LitServe and BentoML on the endpoints they serve (text, sample), each in its "
             "own venv under bench/.venvs/, made on first use")  # fmt: skip
    add(
        "--rounds",
        type=int,
        default=defaults.rounds,
        help="times every cell is measured, in turn; each goal is its ratio's median over them",
    )
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error(f"--rounds must be at least 1, not {args.rounds}")
    if args.quick:
        args.duration, args.warmup, args.soak = 1, 0, 5
    return Options(
        endpoints=tuple(args.endpoints),
        concurrency=tuple(args.concurrency),
        duration=args.duration,
        warmup=args.warmup,
        soak=args.soak,
        engine=args.client,
        out=args.out,
        peers=args.peers,
        rounds=args.rounds,
        command=shlex.join([*settings_from_environment(), "python", "-m", "bench", *argv]),
    )


def settings_from_environment() -> list[str]:
    """`NAME=value` of the variables that change what is measured: the service's settings (the
    baselines read them too) and the naive server's torch threads."""
    return [
        f"{name}={value}"
        for name, value in sorted(os.environ.items())
        if name.startswith("GENSEQ_") or name == "OMP_NUM_THREADS"
    ]


def stop_on_sigterm() -> None:
    """A SIGTERM (a `kill`, a runner's time limit) ends the bench as Ctrl-C does: through the
    `finally` that stops every server it started, paused ones included; Python's default would
    leave them running."""
    signal.signal(signal.SIGTERM, lambda number, frame: sys.exit(128 + number))


def main(argv: list[str]) -> None:
    options = parse(argv)
    stop_on_sigterm()
    print(f"{options.command}: endpoints {', '.join(options.endpoints)}", flush=True)
    if "wrk" not in client.engines():
        print(f"no wrk here (apt-get install wrk).{CLIENT_CAPPED}", flush=True)
    results = run(options, log=lambda line: print(line, flush=True))
    print("\n" + markdown(results))
    md, raw = write(results, options.out)
    print(f"wrote {md} and {raw}")


if __name__ == "__main__":
    main(sys.argv[1:])
