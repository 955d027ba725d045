"""The runs of a study, side by side: each in its own process with one thread, on the engine.

Under ``torchrun`` every process takes its share of the runs (run ``i`` goes to rank
``i % world_size``), each with its own pool of ``jobs`` side by side; rank 0 gathers every
result, in the order of the runs, and alone writes the report.
"""

from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from tqdm import tqdm

from training.engine import Engine
from training.runtime import Runtime

Run = TypeVar("Run")


def in_one_thread(job: tuple[Callable[[Any, Engine], Any], Any, Runtime]) -> Any:
    """One run in a worker process: one thread, a local engine on the study's device."""
    work, run, runtime = job
    torch.set_num_threads(1)
    with Engine.local(runtime) as engine:
        return work(run, engine)


def run_all(
    work: Callable[[Run, Engine], Any], runs: list[Run], jobs: int, engine: Engine, desc: str
) -> list[Any] | None:
    """``work(run, engine)`` for every run, ``jobs`` at a time; the results on rank 0, else None."""
    mine = list(range(engine.rank, len(runs), engine.world_size))
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        done = pool.map(in_one_thread, [(work, runs[i], engine.runtime) for i in mine])
        results = list(tqdm(done, total=len(mine), desc=desc, unit="run",
                            disable=not engine.is_main))  # fmt: skip
    if engine.world_size == 1:
        return results
    gathered = [None] * engine.world_size if engine.is_main else None
    dist.gather_object(list(zip(mine, results, strict=True)), gathered, dst=0)
    if not engine.is_main:
        return None
    ordered = dict(pair for part in gathered for pair in part)
    return [ordered[i] for i in range(len(runs))]
