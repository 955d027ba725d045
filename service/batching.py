"""Dynamic batching: requests that arrive while a model runs wait and go together in its next run.

A text query costs the text2text model about as much alone as four do together (0.20 ms for one,
0.27 ms for four on the dev machine, `python -m bench.batch_sizes`), and every run is a hop to a
worker thread. Under load, concurrent requests each await `Batcher.__call__`; in an inference
slot's thread (off the event loop), a drain stacks whatever is waiting, runs it once, hands each
request its rows, and goes on with whatever waits by then; as many drains run at once as there
are slots, so every core can run the model. Nothing waits on a timer: a lone request runs at
once, so batching adds no latency when the service is idle.

`GET /render` batches too: its model draws one answer for 1.14 ms of CPU alone and for 0.67 ms
each among four (`python -m bench.batch_sizes`). What a request hands in and gets back is the
caller's to define (a :class:`Batcher` stacks nothing itself); :func:`stacked` is the usual case,
row arrays stacked for one run and split back.
"""

import asyncio
import threading
from collections import deque
from collections.abc import Callable, Sized
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

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
    2,000-2,100 spread.

    A slot's thread that ends a run takes the next batch itself, up to ``RUNS_A_TURN`` runs
    before it lets other work have the slot, rather than hand back to the event loop and wait
    for it, busy with requests, to start the next. With the renders' inputs made in the slot
    too (service/api/render.py), `GET /render` at c=8 went from 0.49x and 0.54x raw
    onnxruntime's images/s to 0.68x and 0.65x (`python -m bench --endpoints render text
    --concurrency 8 --soak 0`, the commit before and this one alternated twice)."""

    RUNS_A_TURN = 8  # so other work waiting for a slot (a /sample, say) waits at most this many

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
        self._lock = threading.Lock()  # the fields below are shared with the slots' threads
        self._waiting: deque[_Waiting] = deque()
        self._draining = 0  # drains started and not yet out of waiters
        self._running = 0  # runs of this batcher in a slot's thread now
        self._drains: set[asyncio.Task] = set()  # referenced until done, as asyncio asks

    async def __call__(self, item: Item) -> Result:
        """The result for ``item`` (1 to ``max_rows`` rows), computed with other waiters'."""
        if not 1 <= len(item) <= self._max_rows:
            raise ValueError(f"{len(item)} rows; a request may send 1 to {self._max_rows}")
        answer = asyncio.get_running_loop().create_future()
        with self._lock:
            self._waiting.append(_Waiting(item, answer))
            start = self._draining < self._slots.size
            self._draining += start
        if start:
            drain = asyncio.create_task(self._drain())
            self._drains.add(drain)
            drain.add_done_callback(self._drains.discard)
        return await answer

    async def _drain(self) -> None:
        """Turns in a slot (each up to RUNS_A_TURN runs) until nobody waits. Cancelled only as
        the app stops, its batchers with it."""
        loop = asyncio.get_running_loop()
        try:
            while await self._slots.run(self._turn, loop):
                pass
        except asyncio.CancelledError:  # the app is stopping: nobody is left waiting forever
            with self._lock:
                waiting, self._waiting = self._waiting, deque()
            for waiter in waiting:
                waiter.answer.cancel()
            raise

    def _turn(self, loop: asyncio.AbstractEventLoop) -> bool:
        """In a slot's thread: batch after batch while requests wait, each batch answered on
        ``loop`` as its run ends. True if requests still wait after RUNS_A_TURN runs."""
        for _ in range(self.RUNS_A_TURN):
            with self._lock:
                batch = self._next_batch()
                if not batch:
                    self._draining -= 1
                    return False
                self._running += 1
            try:
                results: list[Any] | Exception = self._run([waiter.item for waiter in batch])
            except Exception as exc:  # each request raises it, as if it had run alone
                results = exc
            finally:
                with self._lock:
                    self._running -= 1
            if not loop.is_closed():
                loop.call_soon_threadsafe(_answer, batch, results)
        return True

    def _next_batch(self) -> list[_Waiting]:
        """Waiters in arrival order up to ``max_rows`` rows (with ``spread``, up to this run's
        share of them); the rest stay for the next run. Called with the lock held."""
        free = max(1, self._slots.size - self._running) if self._spread else 1
        share = -(-len(self._waiting) // free)
        # A waiter's future is the event loop's; only its done() is read here, a plain flag.
        batch, rows = [], 0
        while (
            self._waiting
            and len(batch) < share
            and rows + len(self._waiting[0].item) <= self._max_rows
        ):
            waiter = self._waiting.popleft()
            if not waiter.answer.done():  # a request that gave up (a timeout) is not run
                batch.append(waiter)
                rows += len(waiter.item)
        return batch


def _answer(batch: list[_Waiting], results: list[Any] | Exception) -> None:
    """On the event loop: each waiter still there gets its result, or the run's error."""
    for i, waiter in enumerate(batch):
        if waiter.answer.done():
            continue
        if isinstance(results, Exception):
            waiter.answer.set_exception(results)
        else:
            waiter.answer.set_result(results[i])


def stacked(
    run: Callable[[np.ndarray], np.ndarray],
) -> Callable[[list[np.ndarray]], list[np.ndarray]]:
    """``run`` (rows on axis 0 -> outputs row for row) once on the rows of several requests,
    its outputs split back into each request's rows."""

    def run_stacked(parts: list[np.ndarray]) -> list[np.ndarray]:
        outputs = run(np.concatenate(parts))
        return np.split(outputs, np.cumsum([len(part) for part in parts[:-1]]))

    return run_stacked
