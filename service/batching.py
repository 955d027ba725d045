"""Dynamic batching: requests that arrive while a model runs wait and go together in its next run.

A text query costs the text2text model about as much alone as four do together (0.20 ms for one,
0.27 ms for four on the dev machine, `python -m bench.batch_sizes`), and every run is a hop to a
worker thread. Under load, concurrent requests each await `Batcher.__call__`; a task stacks
whatever is waiting, runs it once in an inference slot (off the event loop), and hands each
request its rows; as many such tasks run at once as there are slots, so every core can run the
model. Nothing waits on a timer: a lone request runs at once, so batching adds no latency when
the service is idle.
"""

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from service.slots import InferenceSlots


@dataclass
class _Waiting:
    rows: np.ndarray
    answer: asyncio.Future


class Batcher:
    """Runs ``run`` (rows stacked on axis 0 -> outputs row for row) on the rows of every request
    waiting, at most ``max_rows`` a run, in ``slots``."""

    def __init__(
        self, run: Callable[[np.ndarray], np.ndarray], max_rows: int, slots: InferenceSlots
    ) -> None:
        self._run = run
        self._max_rows = max_rows
        self._slots = slots
        self._waiting: deque[_Waiting] = deque()
        self._workers: list[asyncio.Task] = []

    async def __call__(self, rows: np.ndarray) -> np.ndarray:
        """The outputs for ``rows`` (1 to ``max_rows``), computed together with other waiters'."""
        if not 1 <= len(rows) <= self._max_rows:
            raise ValueError(f"{len(rows)} rows; a request may send 1 to {self._max_rows}")
        answer = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiting(rows, answer))
        # A worker finds the queue empty and ends in one step of the event loop, so a done()
        # task is never one about to take this request.
        self._workers = [worker for worker in self._workers if not worker.done()]
        if len(self._workers) < self._slots.size:
            self._workers.append(asyncio.create_task(self._drain()))
        return await answer

    async def _drain(self) -> None:
        while self._waiting:
            batch = self._next_batch()
            if not batch:  # every waiter left (a timeout) before its turn
                continue
            try:
                rows = np.concatenate([waiter.rows for waiter in batch])
                outputs = await self._slots.run(self._run, rows)
            except asyncio.CancelledError:  # the app is stopping: nobody is left waiting forever
                for waiter in [*batch, *self._waiting]:
                    waiter.answer.cancel()
                raise
            except Exception as exc:  # each request raises it, as if it had run alone
                for waiter in batch:
                    if not waiter.answer.done():
                        waiter.answer.set_exception(exc)
                continue
            start = 0
            for waiter in batch:
                end = start + len(waiter.rows)
                if not waiter.answer.done():
                    waiter.answer.set_result(outputs[start:end])
                start = end

    def _next_batch(self) -> list[_Waiting]:
        """Waiters in arrival order up to ``max_rows`` rows; the rest stay for the next run."""
        batch, rows = [], 0
        while self._waiting and rows + len(self._waiting[0].rows) <= self._max_rows:
            waiter = self._waiting.popleft()
            if not waiter.answer.done():
                batch.append(waiter)
                rows += len(waiter.rows)
        return batch
