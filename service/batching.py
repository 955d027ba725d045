"""Dynamic batching: requests that arrive while a model runs wait and go together in its next run.

A text query costs the text2text model about as much alone as four do together (0.20 ms for one,
0.27 ms for four on the dev machine, `python -m bench.batch_sizes`), and every run is a hop to a
worker thread. Under load, concurrent requests each await `Batcher.__call__`; a task stacks
whatever is waiting, runs it once in an inference slot (off the event loop), and hands each
request its rows; as many such tasks run at once as there are slots, so every core can run the
model. Nothing waits on a timer: a lone request runs at once, so batching adds no latency when
the service is idle.

`GET /render` batches too: its model draws one answer for 1.14 ms of CPU alone and for 0.67 ms
each among four (`python -m bench.batch_sizes`). What a request hands in and gets back is the
caller's to define (a :class:`Batcher` stacks nothing itself); :func:`stacked` is the usual case,
row arrays stacked for one run and split back.
"""

import asyncio
from collections import deque
from collections.abc import Callable, Sized
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np

from service.slots import InferenceSlots

Item = TypeVar("Item", bound=Sized)  # what a request hands in: its length is its rows
Result = TypeVar("Result")


@dataclass
class _Waiting:
    item: Sized
    answer: asyncio.Future


class Batcher(Generic[Item, Result]):
    """Runs ``run`` (the items of several requests -> a result for each, in order) on the items
    of every request waiting, at most ``max_rows`` rows a run, in ``slots``.

    With ``spread``, the requests waiting are shared evenly among the slots not running this
    batcher's work: eight renders go four and four on two cores rather than eight on one while
    the other idles. Without it, one run takes them all: single text queries cost the model
    little and the event loop much, and each run is a hop to a thread. At c=8 (`python -m bench
    --endpoints text render --concurrency 8 --duration 5 --soak 0`), `GET /render` answered 709
    requests/s as one run and 1,001 spread; single text queries 3,000-3,600/s as one run and
    2,000-2,100 spread."""

    def __init__(
        self,
        run: Callable[[list[Item]], list[Result]],
        max_rows: int,
        slots: InferenceSlots,
        spread: bool = False,
    ) -> None:
        self._run = run
        self._max_rows = max_rows
        self._slots = slots
        self._spread = spread
        self._waiting: deque[_Waiting] = deque()
        self._workers: list[asyncio.Task] = []
        self._running = 0  # runs of this batcher in a slot or waiting for one

    async def __call__(self, item: Item) -> Result:
        """The result for ``item`` (1 to ``max_rows`` rows), computed with other waiters'."""
        if not 1 <= len(item) <= self._max_rows:
            raise ValueError(f"{len(item)} rows; a request may send 1 to {self._max_rows}")
        answer = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiting(item, answer))
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
            self._running += 1
            try:
                results = await self._slots.run(self._run, [waiter.item for waiter in batch])
            except asyncio.CancelledError:  # the app is stopping: nobody is left waiting forever
                for waiter in [*batch, *self._waiting]:
                    waiter.answer.cancel()
                raise
            except Exception as exc:  # each request raises it, as if it had run alone
                for waiter in batch:
                    if not waiter.answer.done():
                        waiter.answer.set_exception(exc)
                continue
            finally:
                self._running -= 1
            for waiter, result in zip(batch, results, strict=True):
                if not waiter.answer.done():
                    waiter.answer.set_result(result)

    def _next_batch(self) -> list[_Waiting]:
        """Waiters in arrival order up to ``max_rows`` rows (with ``spread``, up to this run's
        share of them); the rest stay for the next run."""
        free = max(1, self._slots.size - self._running) if self._spread else 1
        share = -(-len(self._waiting) // free)
        batch, rows = [], 0
        while (
            self._waiting
            and len(batch) < share
            and rows + len(self._waiting[0].item) <= self._max_rows
        ):
            waiter = self._waiting.popleft()
            if not waiter.answer.done():
                batch.append(waiter)
                rows += len(waiter.item)
        return batch


def stacked(
    run: Callable[[np.ndarray], np.ndarray],
) -> Callable[[list[np.ndarray]], list[np.ndarray]]:
    """``run`` (rows on axis 0 -> outputs row for row) once on the rows of several requests,
    its outputs split back into each request's rows."""

    def run_stacked(parts: list[np.ndarray]) -> list[np.ndarray]:
        outputs = run(np.concatenate(parts))
        return np.split(outputs, np.cumsum([len(part) for part in parts[:-1]]))

    return run_stacked
