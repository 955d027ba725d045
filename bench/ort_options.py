"""Which onnxruntime session options serve a model fastest here: threads and graph optimisation.

    python bench/ort_options.py [exported/text2text/model.onnx]

Every setting runs in interleaved rounds so the shared machine's noise hits all alike; the table
gives each setting's median time per run and its ratio to the service's default (1 thread,
ORT_ENABLE_ALL).
"""

import statistics
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from service.registry import session_options

ROUNDS = 7
BATCHES = {1: 2000, 4096: 10}  # batch size: runs per round
LEVELS = {
    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    "off": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
}


def one_hot_batch(n: int, shape: list, rng: np.random.Generator) -> np.ndarray:
    """Random one-hot rows of the model's input shape (the values do not change the cost)."""
    steps, symbols = shape[1:]
    return np.eye(symbols, dtype=np.float32)[rng.integers(0, symbols, (n, steps))]


def main(path: Path) -> None:
    sessions = {}
    for threads in (1, 2, 0):
        for level_name, level in LEVELS.items():
            options = session_options(threads)
            options.graph_optimization_level = level
            sessions[(threads, level_name)] = ort.InferenceSession(
                str(path), options, providers=["CPUExecutionProvider"]
            )
    default = sessions[(1, "all")]
    feed = default.get_inputs()[0]
    rng = np.random.default_rng(0)
    print(f"{path}: median ms per run, and ratio to the default (1 thread, optimisation all)")
    print("| threads | graph optimisation | " + " | ".join(f"batch {n}" for n in BATCHES) + " |")
    print("|---|---|" + "---|" * len(BATCHES))
    medians = {key: {} for key in sessions}
    for n, runs in BATCHES.items():
        x = {feed.name: one_hot_batch(n, feed.shape, rng)}
        times = {key: [] for key in sessions}
        for session in sessions.values():
            session.run(None, x)
        for _ in range(ROUNDS):
            for key, session in sessions.items():
                started = time.perf_counter()
                for _ in range(runs):
                    session.run(None, x)
                times[key].append((time.perf_counter() - started) / runs)
        for key in sessions:
            medians[key][n] = statistics.median(times[key])
    for (threads, level), by_batch in medians.items():
        cells = " | ".join(
            f"{by_batch[n] * 1e3:.3f} ms ({by_batch[n] / medians[(1, 'all')][n]:.2f}x)"
            for n in BATCHES
        )
        print(f"| {threads or 'all cores'} | {level} | {cells} |")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "exported/text2text/model.onnx"))
