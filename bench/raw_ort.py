"""The compute floor: the service's own sessions called in a loop, in this process.

Models load through service.registry (same session options, same checks and warm-up); each of
``threads`` threads calls `session.run` on one shared session back to back, as the service's
inference slots do, with the feeds prepared once, so only the model's own time is counted.
"""

import argparse
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnxruntime as ort

from bench.client import Stats, summarize
from bench.endpoints import ENDPOINTS, Feeds
from service.registry import load_model, session_options


def session(
    models_dir: Path, name: str, intra_op_threads: int
) -> tuple[ort.InferenceSession, dict]:
    """The session and card of model ``name``, loaded as the service loads it."""
    model = load_model(models_dir / name, session_options(intra_op_threads))
    return model.session, model.card


def measure(session: ort.InferenceSession, feeds: Feeds, threads: int, seconds: float) -> Stats:
    """Runs per second (as `Stats.rps`) and per-run latency with ``threads`` callers."""
    latencies: list[list[float]] = [[] for _ in range(threads)]
    deadline = time.perf_counter() + seconds

    def caller(mine: list[float]) -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            session.run(None, feeds)
            mine.append(time.perf_counter() - started)

    started, cpu = time.perf_counter(), time.process_time()
    workers = [threading.Thread(target=caller, args=(mine,)) for mine in latencies]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    stats = summarize(np.concatenate([np.array(x) for x in latencies]) * 1e3, 0, elapsed)
    return replace(stats, cpu_seconds=cpu)


def compare(endpoint: str, folders: list[Path], seconds: float, rounds: int) -> str:
    """One endpoint's model from each models folder (two exports of it, say), measured in turns,
    ``rounds`` times each, so a shared machine's drift falls on all alike: a table of the sums."""
    chosen = ENDPOINTS[endpoint]()
    loaded = [session(folder, chosen.model, 1) for folder in folders]
    feeds = [chosen.feeds(card) for _, card in loaded]
    runs, cpu = [0] * len(folders), [0.0] * len(folders)
    for _ in range(rounds):
        for i, (model, _) in enumerate(loaded):
            stats = measure(model, feeds[i], 1, seconds)
            runs[i] += stats.requests
            cpu[i] += stats.cpu_seconds or 0.0
    lines = [
        f"{chosen.name}: model {chosen.model}, one thread, {rounds} x {seconds:g} s each",
        "| models folder | parameters | runs | CPU ms/run | vs first |",
        "|---|---:|---:|---:|---:|",
    ]
    per_run = [1e3 * spent / max(n, 1) for spent, n in zip(cpu, runs, strict=True)]
    for i, folder in enumerate(folders):
        parameters = loaded[i][1].get("parameters", "-")
        lines.append(f"| {folder} | {parameters} | {runs[i]} | {per_run[i]:.3f} | "
                     f"{per_run[i] / per_run[0]:.2f}x |")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.raw_ort",
        description="The CPU a model's run costs, in onnxruntime alone, for the same model "
        "from several models folders (e.g. exported/ and a folder holding an earlier export).",
    )
    parser.add_argument("folders", type=Path, nargs="+", help="models folders, like exported/")
    parser.add_argument("--endpoint", choices=sorted(ENDPOINTS), default="image")
    parser.add_argument("--seconds", type=float, default=3.0, help="per turn")
    parser.add_argument("--rounds", type=int, default=5, help="turns of every folder")
    args = parser.parse_args()
    print(compare(args.endpoint, args.folders, args.seconds, args.rounds))


if __name__ == "__main__":
    main()
