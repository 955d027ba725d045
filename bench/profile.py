"""`python -m bench.profile`: where the service's CPU goes under load, before anyone cuts.

py-spy samples `python -m service` (every thread, native frames off) while the bench client
sends one endpoint's requests; the functions holding the most samples are printed, by their own
samples and by the samples of everything they called. The collapsed stacks are written to
``--out`` (readable by speedscope, inferno or flamegraph.pl).

    .venv/bin/python -m bench.profile --endpoint text --concurrency 8 --seconds 20

py-spy (pinned in the dev extra) needs ptrace rights: root, or CAP_SYS_PTRACE in a container.
"""

import argparse
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from bench import client
from bench.endpoints import ENDPOINTS, build
from bench.servers import ours, running

TOP = 25


def summarise(stacks: str, top: int = TOP) -> str:
    """A table of the busiest functions in py-spy's raw (collapsed) output: one stack a line,
    frames root first, separated by ';', then the sample count."""
    own, total, samples = Counter(), Counter(), 0
    for line in stacks.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")[1:]  # the first is the thread
        samples += int(count)
        if frames:
            own[frames[-1]] += int(count)
        for frame in set(frames):
            total[frame] += int(count)
    rows = ["| own % | total % | function (file:line) |", "|---:|---:|---|"]
    for frame, count in own.most_common(top):
        rows.append(
            f"| {100 * count / samples:.1f} | {100 * total[frame] / samples:.1f} | {frame} |"
        )
    return f"{samples} samples\n\n" + "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("--endpoint", choices=list(ENDPOINTS), default="text")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=20, help="of load, all of it sampled")
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--out", type=Path, default=Path("profile.txt"), help="collapsed stacks")
    parser.add_argument(
        "--gil", action="store_true", help="only the thread holding the GIL: Python's own CPU"
    )
    args = parser.parse_args(argv)
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).is_file():
        parser.exit(2, "python -m bench.profile: py-spy is missing: pip install -e '.[dev]'\n")
    endpoint = build([args.endpoint])[args.endpoint]
    engine = client.engines()[0]
    with tempfile.TemporaryDirectory() as logs, running(ours("service"), Path(logs)) as servers:
        server = servers["service"]
        client.load(engine, server.url, [endpoint.request], args.concurrency, 2)  # warm up
        record = [spy, "record", "--pid", str(server.process.pid), "--rate", str(args.rate),
                  "--duration", str(args.seconds), "--format", "raw", "--output", str(args.out),
                  "--subprocesses", "--nonblocking", *(["--gil"] if args.gil else [])]  # fmt: skip
        with subprocess.Popen(record, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as spying:
            stats = client.load(engine, server.url, [endpoint.request], args.concurrency,
                                args.seconds)  # fmt: skip
            _, errors = spying.communicate(timeout=args.seconds + 60)
        if spying.returncode != 0:
            parser.exit(1, f"python -m bench.profile: py-spy failed: {errors.decode()[-500:]}\n")
    print(f"{endpoint.name} at c={args.concurrency}: {stats.rps:.0f} requests/s, "
          f"{stats.errors} errors, with py-spy attached ({engine} client)")  # fmt: skip
    print(summarise(args.out.read_text()))
    print(f"\ncollapsed stacks: {args.out}")


if __name__ == "__main__":
    main()
