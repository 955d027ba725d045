"""Limits that keep the service answering under load: the request timeout and the bound on
simultaneous inference runs, and the in-flight gauge that shows requests waiting for them."""

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anyio
import pytest
from fastapi.testclient import TestClient
from starlette.types import Message, Receive, Scope, Send

from service.accounting import Accounting
from service.main import create_app
from service.metrics import Metrics
from service.middleware import RequestMiddleware
from service.settings import Settings

QUERY = {"query": "81+24"}


def start(models_dir: Path, **limits: Any) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(models_dir=models_dir, **limits))) as client:
        yield client


@pytest.fixture
def slow_client(models_copy: Path) -> Iterator[TestClient]:
    """Requests time out after 0.3 s."""
    yield from start(models_copy, request_timeout_seconds=0.3)


@pytest.fixture
def bounded_client(models_copy: Path) -> Iterator[TestClient]:
    """At most 2 inference runs at once."""
    yield from start(models_copy, max_concurrent_inference=2)


def slow_down(
    client: TestClient, seconds: float, during_run: Callable[[], None] = lambda: None
) -> Callable[[], None]:
    """Make every text2text run take `seconds` more, calling `during_run` inside each."""
    session = client.app.state.context.registry.get("text2text").session
    run = session.run

    def slow_run(*args: Any) -> Any:
        during_run()
        time.sleep(seconds)
        return run(*args)

    session.run = slow_run
    return lambda: setattr(session, "run", run)


def test_a_slow_request_gets_a_504_and_the_service_still_answers(
    slow_client: TestClient,
) -> None:
    restore = slow_down(slow_client, 0.8)
    response = slow_client.post("/solve/text", json=QUERY)
    assert response.status_code == 504
    assert "not answered within 0.3 s" in response.json()["detail"]
    restore()
    assert slow_client.post("/solve/text", json=QUERY).json()["answer"] == "105"
    assert slow_client.get("/health").status_code == 200


def test_inference_runs_are_bounded_and_waiting_requests_count_as_in_flight(
    bounded_client: TestClient,
) -> None:
    running = most_running = most_in_flight = 0
    lock = threading.Lock()
    registry = bounded_client.app.state.context.metrics.registry

    def count_run() -> None:
        nonlocal running, most_running, most_in_flight
        with lock:
            running += 1
            most_running = max(most_running, running)
            in_flight = registry.get_sample_value("genseq_http_requests_in_flight")
            most_in_flight = max(most_in_flight, in_flight)
        time.sleep(0.1)
        with lock:
            running -= 1

    slow_down(bounded_client, 0, count_run)
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: bounded_client.post("/solve/text", json=QUERY), range(8)))
    assert [a.json()["answer"] for a in answers] == ["105"] * 8
    assert most_running == 2  # the bound, reached
    assert most_in_flight > 2  # requests waiting for a slot are in flight too
    assert registry.get_sample_value("genseq_http_requests_in_flight") == 0


# The middleware alone, on apps that answer late.
async def receive() -> Message:
    return {"type": "http.request", "body": b""}


def run_middleware(
    app: Callable[..., Any], seconds: float, on_send: Callable[[Message], None] = lambda m: None
) -> list[Message]:
    """What the client is sent by `app` behind a `seconds` timeout."""
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)
        on_send(message)

    async def main() -> None:
        with anyio.fail_after(5):
            middleware = RequestMiddleware(
                app, Accounting(Metrics(), None), max_bytes=1024, timeout=seconds
            )
            await middleware(
                {"type": "http", "method": "GET", "path": "/", "headers": []}, receive, send
            )

    anyio.run(main)
    return sent


def test_the_504_frees_the_client_while_the_work_goes_on_and_its_answer_is_dropped() -> None:
    release, done = threading.Event(), threading.Event()

    def work() -> None:  # at most 2 s, so that a failing test does not hang
        release.wait(2)
        done.set()

    async def stuck(scope: Scope, receive: Receive, send: Send) -> None:
        await anyio.to_thread.run_sync(work)  # cannot be cancelled, like session.run
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"late"})

    def on_send(message: Message) -> None:
        if message["type"] == "http.response.body":
            assert not done.is_set()  # the client has its answer while the work goes on
            release.set()

    sent = run_middleware(stuck, 0.1, on_send)
    assert [m.get("status") for m in sent] == [504, None]
    assert b"not answered within 0.1 s" in sent[1]["body"]


def test_a_handler_waiting_on_the_loop_is_cancelled_at_once() -> None:
    async def waiting(scope: Scope, receive: Receive, send: Send) -> None:
        await anyio.sleep(30)

    begin = time.perf_counter()
    sent = run_middleware(waiting, 0.05)
    assert sent[0]["status"] == 504 and time.perf_counter() - begin < 2


def test_a_response_started_in_time_is_not_cut() -> None:
    async def streaming(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await anyio.sleep(0.2)
        await send({"type": "http.response.body", "body": b"done"})

    sent = run_middleware(streaming, 0.05)
    assert [m.get("status") for m in sent] == [200, None] and sent[1]["body"] == b"done"


def test_a_cancellation_other_than_the_timeouts_goes_on() -> None:
    """The server stopping cancels a request's task: the middleware must not swallow that."""
    sent: list[Message] = []

    async def waiting(scope: Scope, receive: Receive, send: Send) -> None:
        await anyio.sleep(30)

    async def record(message: Message) -> None:
        sent.append(message)

    async def main() -> None:
        middleware = RequestMiddleware(
            waiting, Accounting(Metrics(), None), max_bytes=1024, timeout=30
        )
        request = asyncio.create_task(middleware(
            {"type": "http", "method": "GET", "path": "/", "headers": []}, receive, record
        ))  # fmt: skip
        await asyncio.sleep(0.05)
        request.cancel()
        with pytest.raises(asyncio.CancelledError):
            await request

    asyncio.run(main())
    assert sent == []  # no 504: the request was not timed out


def test_an_error_of_the_app_passes_through_as_itself() -> None:
    async def failing(scope: Scope, receive: Receive, send: Send) -> None:
        raise ValueError("broken")

    with pytest.raises(ValueError, match="broken"):
        run_middleware(failing, 1)
