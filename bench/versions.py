"""`python -m bench.versions REF`: the service as in the working tree against the service as at
the git revision REF, over HTTP, side by side: did a change make it cheaper?

On a shared machine one measurement differs from the next by a fifth, more than most changes
move; here the two services are loaded in turns, round after round, and each figure is the
median of its rounds, beside the median of the rounds' ratios. Three loads at c=8: a `GET
/sample` revalidation (its tag in If-None-Match: a 304), and `python -m bench`'s single `POST
/solve/text` query and `GET /sample?n=16` (the service keeps no answers: each runs the model).
REF's tree, its models with it, is exported from git into a temporary folder and served by this
interpreter.

    .venv/bin/python -m bench.versions HEAD --rounds 10
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench import client
from bench.endpoints import ENDPOINTS
from bench.run import revalidation
from bench.servers import REPO, Launch, measured_load, running

LAUNCHER = (
    "import runpy, sys; sys.path.insert(0, sys.argv.pop(1)); "
    "runpy.run_module('service', run_name='__main__', alter_sys=True)"
)
LOADS = ("304", "text query", "sample")


def export(revision: str, folder: Path) -> None:
    """REF's tree into ``folder``; exits with git's one line if REF names no revision."""
    archive = subprocess.run(["git", "archive", revision], cwd=REPO, capture_output=True)
    if archive.returncode != 0:
        raise SystemExit(f"bench.versions: {archive.stderr.decode().strip()}")
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.versions", description=__doc__)
    parser.add_argument("revision", help="a git revision: a commit, a branch, HEAD~2, ...")
    client.add_turn_options(parser, seconds=6, rounds=5, of="the two services")
    args = client.parse_turn_options(parser, argv)
    engine = client.engines()[0]
    tree, ref = "working tree", args.revision
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary) / "tree"
        folder.mkdir()
        export(args.revision, folder)
        launches = {
            ref: Launch([sys.executable, "-c", LAUNCHER, str(folder)]),
            tree: Launch([sys.executable, "-m", "service"]),
        }
        readings = {(name, load): [] for name in launches for load in LOADS}
        with running(launches, Path(temporary)) as servers:
            sample = ENDPOINTS["sample"]().request
            requests = {
                name: {
                    "304": revalidation(server, sample),
                    "sample": sample,
                    "text query": ENDPOINTS["text"]().request,
                }
                for name, server in servers.items()
            }
            for _ in range(args.rounds):
                for load in LOADS:
                    for name, server in servers.items():
                        request = requests[name][load]
                        stats = measured_load(
                            server, engine, request, args.concurrency, args.seconds
                        )
                        readings[name, load].append(
                            (stats.rps, stats.cpu_ms_per_request, stats.errors)
                        )
    print(f"c={args.concurrency}, {args.seconds} s a measurement, {args.rounds} rounds ({engine}): "
          "each figure the median of its rounds\n")  # fmt: skip
    print(f"| load | {ref}: requests/s | CPU ms a request | {tree}: requests/s | CPU ms a request "
          f"| CPU a request, {tree} / {ref} |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|")
    for load in LOADS:
        old, new = readings[ref, load], readings[tree, load]
        ratio = statistics.median(n[1] / o[1] for o, n in zip(old, new, strict=True))
        cells = [f"{statistics.median(r[0] for r in rows):,.0f} | "
                 f"{statistics.median(r[1] for r in rows):.4f}" for rows in (old, new)]  # fmt: skip
        errors = sum(r[2] for r in old + new)
        note = f" ({errors} errors)" if errors else ""
        print(f"| {load}{note} | {cells[0]} | {cells[1]} | {ratio:.2f}x |")


if __name__ == "__main__":
    main()
