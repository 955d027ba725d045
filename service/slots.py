"""Bounded compute: at most `size` requests of a worker do their CPU work at once, first come,
first served.

A request's work (decoding an upload, running models, encoding the PNG) runs in one of `size`
threads of its own, off the event loop. Works queue in arrival order and a thread that finishes
one takes the next straight from the queue, without waiting for the event loop to hand it over.
Before, a request took a slot on the event loop and then hopped to a thread: each time a thread
finished, the next work started only once the event loop had run, and with the model's threads
busy on both cores the event loop's thread may first have had to wait for a core. The model's
threads stood idle 28 % of the time under `GET /sample?n=16` at c=8 (CPU time of each thread,
from `/proc`); with the queue, see docs/benchmarks.md for the side-by-side runs.

A request the timeout middleware answers while its work waits is cancelled and never runs. Work
already in a thread cannot be stopped: it keeps its thread, and so its slot, until it ends, so
abandoned work stays bounded too.
"""

import asyncio
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


class InferenceSlots:
    def __init__(self, size: int) -> None:
        self.size = size
        self._threads = ThreadPoolExecutor(size, thread_name_prefix="genseq-inference")

    async def run(self, work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``work(*args, **kwargs)`` in a slot's thread, once one is free; the request's context
        variables (its id, for log lines) go with it."""
        call = functools.partial(contextvars.copy_context().run, work, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._threads, call)
