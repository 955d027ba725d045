"""service/batching.py: concurrent requests share model runs, each gets its own rows back, and a
failure, a timeout or a full batch affects no one else."""

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from metric_samples import metric_value

from service.batching import Batcher, stacked
from service.slots import InferenceSlots


class SlowDouble:
    """A stand-in model: doubles its rows after a pause, recording each run's rows; the first
    run can be held until the test releases it, so that others queue up behind it."""

    def __init__(self, hold_first: bool = False) -> None:
        self.runs: list[list[float]] = []
        self.release = threading.Event()
        self.calls = 0
        if not hold_first:
            self.release.set()

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        self.calls += 1
        if self.calls == 1:
            self.release.wait(timeout=10)
        time.sleep(0.01)
        self.runs.append(rows[:, 0].tolist())
        if np.isnan(rows).any():
            raise ValueError("a NaN row")
        return rows * 2


async def ask(batcher: Batcher, *values: float) -> list[float]:
    return (await batcher(np.array(values, np.float32)[:, None]))[:, 0].tolist()


async def queue_behind_first(model: SlowDouble, batcher: Batcher, requests: list) -> list:
    """Send requests[0], then the rest while its run is held; the answers (or errors) in order."""
    first = asyncio.create_task(ask(batcher, *requests[0]))
    await asyncio.sleep(0.05)  # the first run has started and waits for the release
    rest = [asyncio.create_task(ask(batcher, *values)) for values in requests[1:]]
    await asyncio.sleep(0.05)
    model.release.set()
    return await asyncio.gather(first, *rest, return_exceptions=True)


def test_requests_waiting_during_a_run_share_the_next_one_and_get_their_own_rows():
    model = SlowDouble(hold_first=True)
    requests = [(v,) for v in range(10)]
    batcher = Batcher(stacked(model), 64, InferenceSlots(1))
    answers = asyncio.run(queue_behind_first(model, batcher, requests))
    assert answers == [[2.0 * v] for v in range(10)]
    assert model.runs == [[0.0], list(map(float, range(1, 10)))]  # alone at once, then together


def test_a_lone_request_runs_at_once():
    model = SlowDouble()

    async def one() -> tuple[list[float], float]:
        started = time.perf_counter()
        return await ask(
            Batcher(stacked(model), 64, InferenceSlots(1)), 3.0
        ), time.perf_counter() - started

    answer, seconds = asyncio.run(one())
    assert answer == [6.0] and seconds < 1.0 and model.runs == [[3.0]]


def test_a_run_holds_at_most_max_rows_and_requests_are_never_split():
    model = SlowDouble(hold_first=True)
    requests = [(0,), (1, 2), (3, 4), (5, 6)]
    batcher = Batcher(stacked(model), max_rows=3, slots=InferenceSlots(1))
    answers = asyncio.run(queue_behind_first(model, batcher, requests))
    assert answers == [[0.0], [2.0, 4.0], [6.0, 8.0], [10.0, 12.0]]
    assert model.runs == [[0.0], [1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]


def test_a_failed_run_fails_its_requests_only():
    model = SlowDouble(hold_first=True)

    async def main() -> tuple[list, list[float]]:
        batcher = Batcher(stacked(model), 64, InferenceSlots(1))
        answers = await queue_behind_first(model, batcher, [(1.0,), (float("nan"),), (2.0,)])
        return answers, await ask(batcher, 5.0)

    answers, later = asyncio.run(main())
    assert answers[0] == [2.0]  # ran alone, before the bad row arrived
    assert [type(e) for e in answers[1:]] == [ValueError, ValueError]  # shared the bad run
    assert later == [10.0]


def test_a_request_that_gives_up_leaves_the_others_answered():
    model = SlowDouble(hold_first=True)

    async def main() -> list:
        batcher = Batcher(stacked(model), 64, InferenceSlots(1))
        first = asyncio.create_task(ask(batcher, 1.0))
        await asyncio.sleep(0.05)
        impatient = asyncio.create_task(asyncio.wait_for(ask(batcher, 2.0), 0.01))
        patient = asyncio.create_task(ask(batcher, 3.0))
        await asyncio.sleep(0.05)
        model.release.set()
        return await asyncio.gather(first, impatient, patient, return_exceptions=True)

    first, impatient, patient = asyncio.run(main())
    assert first == [2.0] and isinstance(impatient, TimeoutError) and patient == [6.0]
    assert model.runs == [[1.0], [3.0]]  # the request that left was not run


def test_with_two_runs_at_once_requests_pass_a_slow_run():
    model = SlowDouble(hold_first=True)

    async def main() -> tuple:
        batcher = Batcher(stacked(model), 64, InferenceSlots(2))
        first = asyncio.create_task(ask(batcher, 0.0))
        await asyncio.sleep(0.05)  # its run is held
        others = asyncio.gather(*(ask(batcher, v) for v in range(1, 6)))
        answered = await asyncio.wait_for(others, 5)
        held = not first.done()
        model.release.set()
        return await first, answered, held

    first, answered, held = asyncio.run(main())
    assert held and first == [0.0] and answered == [[2.0 * v] for v in range(1, 6)]
    assert model.runs == [[1.0, 2.0, 3.0, 4.0, 5.0], [0.0]]  # together, on the second slot


@pytest.mark.parametrize("spread", [False, True])
def test_requests_waiting_at_once_take_one_run_or_spread_over_the_free_slots(spread):
    model = SlowDouble()

    async def main() -> list:
        batcher = Batcher(stacked(model), 64, InferenceSlots(2), spread)
        return await asyncio.gather(*(ask(batcher, v) for v in range(8)))

    assert asyncio.run(main()) == [[2.0 * v] for v in range(8)]
    halves = [[0.0, 1.0, 2.0, 3.0], [4.0, 5.0, 6.0, 7.0]]  # one on each core
    assert sorted(model.runs) == (halves if spread else [[float(v) for v in range(8)]])


@pytest.mark.parametrize("rows", [0, 65])
def test_rows_outside_one_to_max_rows_are_refused(rows):
    with pytest.raises(ValueError, match="1 to 64"):
        asyncio.run(
            Batcher(stacked(SlowDouble()), 64, InferenceSlots(1))(np.zeros((rows, 1), np.float32))
        )


def test_concurrent_single_queries_get_the_answers_of_their_own_queries(client):
    queries = [f"{a}+{b}" for a, b in zip(range(0, 99, 3), range(98, 0, -3), strict=False)]
    queries += [f"{a}-{b}" for a, b in zip(range(5, 99, 7), range(90, 0, -7), strict=False)]
    expected = client.post("/solve/text", json={"queries": queries}).json()["answers"]
    before = metric_value(client, "genseq_batched_queries_sum", model="text2text")

    def solve(query: str) -> str:
        response = client.post("/solve/text", json={"query": query})
        assert response.status_code == 200 and response.json()["query"] == query
        return response.json()["answer"]

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(solve, queries)) == expected
    assert metric_value(client, "genseq_batched_queries_sum", model="text2text") - before == len(
        queries
    )


def test_a_slot_goes_on_to_the_next_batch_without_the_event_loop():
    model = SlowDouble(hold_first=True)

    async def main() -> int:
        batcher = Batcher(stacked(model), max_rows=1, slots=InferenceSlots(1))
        answers = [asyncio.create_task(ask(batcher, 0.0))]
        await asyncio.sleep(0.05)  # the first run is held
        answers += [asyncio.create_task(ask(batcher, v)) for v in (1.0, 2.0, 3.0)]
        await asyncio.sleep(0.05)  # all four wait
        model.release.set()
        time.sleep(0.5)  # the event loop is blocked: four runs of 10 ms need it not
        ran = len(model.runs)
        assert await asyncio.gather(*answers) == [[0.0], [2.0], [4.0], [6.0]]
        return ran

    assert asyncio.run(main()) == 4


def test_other_work_gets_the_slot_after_at_most_a_turn_of_runs():
    model = SlowDouble(hold_first=True)
    order: list[str] = []

    def run(parts: list[np.ndarray]) -> list[np.ndarray]:
        order.append("run")
        return stacked(model)(parts)

    async def main() -> None:
        slots = InferenceSlots(1)
        batcher = Batcher(run, max_rows=1, slots=slots)
        first = asyncio.create_task(ask(batcher, 0.0))
        await asyncio.sleep(0.05)  # the first run of a turn is held
        rest = [asyncio.create_task(ask(batcher, float(v))) for v in range(1, 20)]
        other = asyncio.create_task(slots.run(order.append, "other"))
        await asyncio.sleep(0.05)
        model.release.set()
        await asyncio.gather(first, *rest, other)

    asyncio.run(main())
    turn = Batcher.RUNS_A_TURN
    assert order.index("other") == turn and order.count("run") == 20
