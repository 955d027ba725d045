"""Request ids and logs: every response carries `X-Request-ID`, every request gets one JSON access
line with that id, and any line logged while serving the request carries it too."""

import asyncio
import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from metric_samples import metric_value

import service.accounting
from service.access_log import AccessLog
from service.accounting import Accounting
from service.logs import JsonFormatter
from service.main import create_app
from service.metrics import Metrics
from service.middleware import new_request_id
from service.settings import Settings

HEX_ID = re.compile(r"[0-9a-f]{32}")


class JsonLines(logging.Handler):
    """The JSON lines the service's log handler would write, parsed back."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter())
        self.lines: list[dict] = []
        self.access_text: list[str] = []  # what service.access_log writes, batch by batch

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))

    def access(self) -> list[dict]:
        return [json.loads(line) for line in "".join(self.access_text).splitlines()]


@pytest.fixture
def logged(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> Iterator[JsonLines]:
    handler = JsonLines()
    accounting = client.app.state.context.accounting
    accounting.flush()  # earlier tests' lines, still batched, are not ours
    monkeypatch.setattr(accounting.access, "write", handler.access_text.append)
    monkeypatch.setattr(service.accounting, "BATCH", 1)  # each line written as it comes
    logger = logging.getLogger("genseq")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


def test_the_clients_request_id_is_echoed_and_logged_with_the_route(
    client: TestClient, logged: JsonLines
) -> None:
    response = client.post("/solve/text", json={"query": "1+1"}, headers={"X-Request-ID": "ab-1"})
    assert response.headers["X-Request-ID"] == "ab-1"
    [line] = logged.access()
    assert line["request_id"] == "ab-1" and line["level"] == "INFO"
    assert (line["method"], line["path"], line["status"]) == ("POST", "/solve/text", 200)
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] > 0
    assert line["time"].endswith("+00:00") and isinstance(line["pid"], int)


def test_a_revalidation_answered_ahead_of_the_middleware_is_echoed_and_logged_too(
    client: TestClient, logged: JsonLines
) -> None:
    url = "/sample?n=1&seed=11"
    tag = client.get(url).headers["etag"]
    response = client.get(url, headers={"If-None-Match": tag, "X-Request-ID": "re-1"})
    assert response.status_code == 304 and response.headers["X-Request-ID"] == "re-1"
    line = logged.access()[-1]
    assert (line["method"], line["path"], line["status"]) == ("GET", "/sample", 304)
    assert line["request_id"] == "re-1"


@pytest.mark.parametrize("sent", [None, "", "has space", "x" * 129, "é"])
def test_a_missing_or_unusable_request_id_is_replaced_by_a_new_one(
    client: TestClient, logged: JsonLines, sent: str | None
) -> None:
    headers = {} if sent is None else {"X-Request-ID": sent.encode()}
    response = client.get("/health", headers=headers)
    assert HEX_ID.fullmatch(response.headers["X-Request-ID"])
    assert logged.access()[0]["request_id"] == response.headers["X-Request-ID"]


def test_each_request_gets_its_own_id_and_errors_are_logged_with_their_status(
    client: TestClient, logged: JsonLines
) -> None:
    ids = {client.get("/health").headers["X-Request-ID"] for _ in range(3)}
    response = client.get("/no/such/path")
    assert len(ids) == 3 and response.status_code == 404 and "X-Request-ID" in response.headers
    assert logged.access()[-1]["path"] == "/no/such/path"
    assert logged.access()[-1]["status"] == 404


def test_lines_logged_while_serving_a_request_carry_its_id(
    client: TestClient, logged: JsonLines, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = client.app.state.context.registry.get("text2text").session
    run = session.run

    def logging_run(*args: object) -> object:  # runs in a worker thread, like inference
        logging.getLogger("genseq.test").warning("inside the model run")
        return run(*args)

    monkeypatch.setattr(session, "run", logging_run)
    client.post("/solve/text", json={"query": "1+1"}, headers={"X-Request-ID": "inner-7"})
    inside = [line for line in logged.lines if line["message"] == "inside the model run"]
    assert inside[0]["request_id"] == "inner-7" and inside[0]["level"] == "WARNING"


def test_a_traceback_goes_into_the_line_as_one_field() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.makeLogRecord({"msg": "failed", "exc_info": sys.exc_info()})
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "failed" and "ValueError: boom" in line["exception"]
    assert "request_id" not in line  # logged outside any request


def test_access_lines_have_the_json_formatters_keys_and_escape_what_json_needs(
    client: TestClient, logged: JsonLines
) -> None:
    client.get('/no/such/"path\\é', headers={"X-Request-ID": 'a"b\\c'})
    [line] = logged.access()
    assert (line["path"], line["request_id"]) == ('/no/such/"path\\é', 'a"b\\c')
    assert (
        line["message"] == f'GET {line["path"]} 404 {line["duration_ms"]:.1f} ms request_id=a"b\\c'
    )
    fields = {"request_id": "x", "method": "GET", "path": "/", "status": 200, "duration_ms": 1.0}
    record = logging.makeLogRecord({"name": "genseq.access", "msg": "m", **fields})
    assert list(line) == list(json.loads(JsonFormatter().format(record)))


def test_requests_are_accounted_in_batches_on_the_event_loop() -> None:
    written: list[str] = []
    metrics = Metrics()
    account = Accounting(metrics, AccessLog(json_lines=True, write=written.append))
    scope = {"method": "GET", "path": "/health"}

    def counted() -> float:
        return (
            metrics.registry.get_sample_value(
                "genseq_http_requests_total", {"method": "GET", "route": "/health", "status": "200"}
            )
            or 0.0
        )

    async def serve() -> None:
        for _ in range(3):
            account(scope, "/health", 200, 0.001, "id")
        assert written == [] and counted() == 0  # waiting for more requests or the timer
        await asyncio.sleep(service.accounting.BATCH_SECONDS * 2)
        assert len(written) == 1 and written[0].count("\n") == 3 and counted() == 3
        for _ in range(service.accounting.BATCH):
            account(scope, "/health", 200, 0.001, "id")
        assert len(written) == 2 and counted() == 3 + service.accounting.BATCH  # a full batch

    asyncio.run(serve())
    account(scope, "/health", 200, 0.001, "id")  # no event loop: at once
    assert len(written) == 3 and all(json.loads(x) for x in "".join(written).splitlines())


def test_a_scrape_counts_the_requests_still_in_a_batch(client: TestClient) -> None:
    labels = {"method": "GET", "route": "/health", "status": "200"}
    before = metric_value(client, "genseq_http_requests_total", **labels)
    for _ in range(3):
        assert client.get("/health").status_code == 200
    assert metric_value(client, "genseq_http_requests_total", **labels) == before + 3


def test_plain_access_lines_follow_the_plain_format() -> None:
    line = AccessLog(json_lines=False).line(time.time(), "GET", "/health", 200, 0.00123, "abc")
    stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}"
    plain = stamp + r" INFO genseq.access GET /health 200 1.2 ms request_id=abc\n"
    assert re.fullmatch(plain, line)


def test_no_access_line_above_the_info_level() -> None:
    assert create_app(Settings(log_level="warning")).state.context.accounting.access is None
    assert create_app(Settings(log_level="debug")).state.context.accounting.access is not None


def test_new_request_ids_are_distinct_version_4_uuids_in_hex() -> None:
    ids = [new_request_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    for text in ids:
        parsed = uuid.UUID(hex=text)
        assert parsed.hex == text and parsed.version == 4 and parsed.variant == uuid.RFC_4122
