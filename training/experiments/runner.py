"""The runs of a study, side by side: each in its own process with one thread, on the engine.

Under ``torchrun`` every process takes its share of the runs (run ``i`` goes to rank
``i % world_size``), each with its own pool of ``jobs`` side by side; rank 0 gathers every
result, in the order of the runs, and alone writes the report. A study of hours can keep each
finished run's result (JSON, named by the run's settings) so that a rerun after an interruption
picks up where it stopped.
"""

import dataclasses
import hashlib
import json
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import MISSING
from pathlib import Path
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


def identity(run: Any) -> Any:
    """What names a run's kept result: a dataclass by those of its fields that its repr shows
    and that differ from their defaults (recursively), anything else by its repr. A field added
    later, whose default keeps the old behaviour, leaves the names of earlier runs as they were."""
    if not dataclasses.is_dataclass(run) or isinstance(run, type):
        return repr(run)
    named = {}
    for f in dataclasses.fields(run):
        value = getattr(run, f.name)
        default = f.default_factory() if f.default_factory is not MISSING else f.default
        if f.repr and (default is MISSING or value != default):
            named[f.name] = identity(value)
    return named


def kept_at(keep: Path, run: Any) -> Path:
    """Where a finished run's result is kept: named by its settings (:func:`identity`)."""
    name = json.dumps(identity(run), sort_keys=True)
    return keep / f"{hashlib.sha256(name.encode()).hexdigest()[:16]}.json"


def run_all(
    work: Callable[[Run, Engine], Any],
    runs: list[Run],
    jobs: int,
    engine: Engine,
    desc: str,
    keep: Path | None = None,
    reuse: bool = False,
) -> list[Any] | None:
    """``work(run, engine)`` for every run, ``jobs`` at a time; the results on rank 0, else None.

    With ``keep``, each result (which must be JSON) is written there as its run finishes; with
    ``reuse`` too, runs already kept there are not run again.
    """
    mine = list(range(engine.rank, len(runs), engine.world_size))
    results: dict[int, Any] = {}
    for i in mine:
        if keep is not None and reuse and kept_at(keep, runs[i]).is_file():
            results[i] = json.loads(kept_at(keep, runs[i]).read_text())
    todo = [i for i in mine if i not in results]
    bar = tqdm(total=len(mine), initial=len(results), desc=desc, unit="run",
               disable=not engine.is_main)  # fmt: skip
    with ProcessPoolExecutor(max_workers=jobs) as pool, bar:
        futures = {pool.submit(in_one_thread, (work, runs[i], engine.runtime)): i for i in todo}
        for done in as_completed(futures):
            i = futures[done]
            results[i] = done.result()
            if keep is not None:
                keep.mkdir(parents=True, exist_ok=True)
                kept_at(keep, runs[i]).write_text(json.dumps(results[i]))
            bar.update()
    if engine.world_size == 1:
        return [results[i] for i in mine]
    gathered = [None] * engine.world_size if engine.is_main else None
    dist.gather_object(list(results.items()), gathered, dst=0)
    if not engine.is_main:
        return None
    ordered = dict(pair for part in gathered for pair in part)
    return [ordered[i] for i in range(len(runs))]
