"""The body size limit counts received bytes, so a body without Content-Length is capped too."""

import anyio
import pytest
from fastapi import HTTPException
from starlette.types import Message, Receive, Scope, Send

from service.accounting import Accounting
from service.metrics import Metrics
from service.middleware import RequestMiddleware


async def read_whole_body(scope: Scope, receive: Receive, send: Send) -> None:
    while (await receive()).get("more_body"):
        pass


def run(headers: list[tuple[bytes, bytes]], chunks: list[bytes]) -> None:
    messages = iter(
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
        for i, c in enumerate(chunks)
    )

    async def receive() -> Message:
        return next(messages)

    async def send(message: Message) -> None:
        raise AssertionError("the test app sends nothing")

    middleware = RequestMiddleware(
        read_whole_body, Accounting(Metrics(), None), max_bytes=10, timeout=30
    )
    scope = {"type": "http", "method": "POST", "path": "/", "headers": headers}
    anyio.run(middleware, scope, receive, send)


def test_chunks_under_the_limit_pass() -> None:
    run([], [b"x" * 5, b"x" * 5])


def test_chunks_over_the_limit_are_413_without_content_length() -> None:
    with pytest.raises(HTTPException) as caught:
        run([], [b"x" * 6, b"x" * 6])
    assert caught.value.status_code == 413


def test_declared_length_over_the_limit_is_413_before_reading() -> None:
    with pytest.raises(HTTPException) as caught:
        run([(b"content-length", b"11")], [])
    assert caught.value.status_code == 413
