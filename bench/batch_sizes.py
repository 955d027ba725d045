"""What batching saves: CPU time of one onnxruntime run, and per item, by batch size.

`python -m bench.batch_sizes`: the shipped `text2text` (one query a row, as `/solve/text` sends
them), `text2image` (a query and a style latent a row, as `/render` does) and `gan` (one latent a
row, as `/sample` does), one intra-op thread as the service runs them, in this process, best of
several timed rounds. Text queries and renders are cheaper together, which is why single queries
and renders share runs (service/batching.py); the generator's cost grows with its batch.
"""

import time
from pathlib import Path

import numpy as np

from service.arithmetic import TextCodec
from service.latents import from_seed
from service.registry import LoadedModel, load_model, session_options

REPO = Path(__file__).resolve().parent.parent
BATCHES = {
    "text2text": (1, 2, 4, 8, 16, 64),
    "text2image": (1, 2, 4, 8, 16),
    "gan": (1, 16, 64, 128),
}


def rows(model: LoadedModel, batch: int) -> dict[str, np.ndarray]:
    if model.task == "gan":
        return {"z": from_seed(0, batch, model.card["latent"])}
    queries = TextCodec.from_card(model.card).encode(["81+24"] * batch)
    if model.task == "text2image":
        return {"query": queries, "style": from_seed(0, batch, model.card["style"]["latent"])}
    return {model.card["inputs"][0]["name"]: queries}


def cpu_ms(model: LoadedModel, feeds: dict[str, np.ndarray], seconds: float = 0.5) -> float:
    """Best of 5 rounds of about ``seconds`` each: CPU milliseconds per run."""
    model.run(feeds)
    best = float("inf")
    for _ in range(5):
        runs, started, cpu = 0, time.perf_counter(), time.process_time()
        while runs == 0 or time.perf_counter() - started < seconds:  # one run even if descheduled
            model.run(feeds)
            runs += 1
        best = min(best, (time.process_time() - cpu) / runs * 1e3)
    return best


def main() -> None:
    print("| model | batch | CPU ms a run | CPU ms an item |\n|---|---:|---:|---:|")
    for name, batches in BATCHES.items():
        model = load_model(REPO / "exported" / name, session_options(1))
        for batch in batches:
            ms = cpu_ms(model, rows(model, batch))
            print(f"| {name} | {batch} | {ms:.3f} | {ms / batch:.4f} |")


if __name__ == "__main__":
    main()
