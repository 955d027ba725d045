"""How one command trains: a :class:`Launch` (the engine, the run's folder, resume, progress,
dry-run batches), and the one a command line asks for."""

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

from training.engine import Engine
from training.runtime import DRY_RUN_BATCHES, runtime_from
from training.task import Task

Result = TypeVar("Result")


@dataclass(frozen=True)
class Launch:
    """How one command trains: on which engine, where checkpoints go (``run_dir``), whether it
    resumes, shows progress, and how many batches an epoch may take (``--dry-run``)."""

    engine: Engine
    run_dir: Path | None = None
    resume: bool = False
    progress: bool = True
    max_batches: int | None = None

    @classmethod
    def local(cls, **fields: Any) -> "Launch":
        """One process on the CPU (for runs side by side, tests and library callers)."""
        return cls(Engine.local(), **fields)

    def fit(self, task: Task) -> list[dict]:
        return self.engine.fit(task, self.run_dir, self.resume, self.progress, self.max_batches)

    def part(self, name: str) -> "Launch":
        """The same launch for one part of a command (its checkpoints in ``run_dir/name``)."""
        return replace(self, run_dir=self.run_dir and self.run_dir / name)


@contextmanager
def launch_for(args: Any, run_dir: Path) -> Iterator[Launch]:
    """The launch a command line asks for (its runtime flags, ``--resume``, ``--dry-run``), on
    an engine set up for the command and closed after it."""
    with Engine(runtime_from(args)) as engine:
        yield Launch(engine, run_dir, args.resume, True, DRY_RUN_BATCHES if args.dry_run else None)


def timed(call: Callable[[], Result]) -> tuple[Result, float]:
    """What ``call()`` returns, and the wall-clock seconds it took (a card's training time)."""
    started = time.perf_counter()
    return call(), time.perf_counter() - started
