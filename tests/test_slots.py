"""service/slots.py: inference slots are bounded and handed out in arrival order; a request
abandoned while it waits never runs, one abandoned in its thread keeps its slot until it ends; a
work sees the context variables of the request that sent it."""

import contextvars
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio

from service.slots import InferenceSlots


@asynccontextmanager
async def only_slot_held() -> AsyncIterator[tuple[InferenceSlots, anyio.abc.TaskGroup]]:
    """One slot, held by a work until the block ends; the tasks started in it are awaited."""
    gate = threading.Event()
    slots = InferenceSlots(1)
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(slots.run, gate.wait, 5)
        await anyio.sleep(0.05)
        yield slots, tasks
        gate.set()


def test_waiters_get_slots_in_the_order_they_came():
    order: list[int] = []

    async def main() -> None:
        async with only_slot_held() as (slots, tasks):
            for i in range(6):
                tasks.start_soon(slots.run, order.append, i)
                await anyio.sleep(0.01)  # queued one after the other

    anyio.run(main)
    assert order == list(range(6))


def test_no_more_than_size_works_run_at_once():
    running = most = 0
    lock = threading.Lock()

    def work() -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.02)
        with lock:
            running -= 1

    async def main() -> None:
        slots = InferenceSlots(2)
        async with anyio.create_task_group() as tasks:
            for _ in range(8):
                tasks.start_soon(slots.run, work)

    anyio.run(main)
    assert most == 2


def test_a_request_abandoned_while_waiting_never_runs():
    ran: list[str] = []

    async def main() -> None:
        async with only_slot_held() as (slots, _):
            with anyio.move_on_after(0.05):  # as the timeout middleware cancels its handler
                await slots.run(ran.append, "abandoned")
        await slots.run(ran.append, "next")

    anyio.run(main)
    assert ran == ["next"]


def test_work_abandoned_in_its_thread_keeps_its_slot_until_it_ends():
    events: list[str] = []
    gate = threading.Event()

    def stuck() -> None:
        gate.wait(5)
        events.append("stuck work ended")

    async def main() -> None:
        slots = InferenceSlots(1)
        async with anyio.create_task_group() as tasks:

            async def abandon() -> None:
                with anyio.move_on_after(0.05):
                    await slots.run(stuck)
                events.append("abandoned")

            tasks.start_soon(abandon)
            await anyio.sleep(0.02)
            tasks.start_soon(slots.run, events.append, "next work ran")
            await anyio.sleep(0.2)  # well past the cancellation: the slot is still held
            events.append("released")
            gate.set()

    anyio.run(main)
    # The request is let go at once (its 504 is the middleware's); its work is not.
    assert events == ["abandoned", "released", "stuck work ended", "next work ran"]


def test_work_sees_the_context_variables_of_its_request():
    current = contextvars.ContextVar("current", default="none")

    async def main() -> str:
        current.set("request 7")
        return await InferenceSlots(1).run(current.get)

    assert anyio.run(main) == "request 7"
