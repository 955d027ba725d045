"""The compute floor: the service's own sessions called in a loop, in this process.

Models load through service.registry (same session options, same checks and warm-up); each of
``threads`` threads calls `session.run` on one shared session back to back, as the service's
inference slots do, with the feeds prepared once, so only the model's own time is counted.
"""

import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnxruntime as ort

from bench.client import Stats, summarize
from bench.endpoints import Feeds
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
