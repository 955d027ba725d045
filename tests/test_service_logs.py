"""Request ids and logs: every response carries `X-Request-ID`, every request gets one JSON access
line with that id, and any line logged while serving the request carries it too."""

import json
import logging
import re
import sys
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from service.logs import ACCESS_LOGGER, JsonFormatter

HEX_ID = re.compile(r"[0-9a-f]{32}")


class JsonLines(logging.Handler):
    """The JSON lines the service's log handler would write, parsed back."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter())
        self.lines: list[dict] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))

    def access(self) -> list[dict]:
        return [line for line in self.lines if line["logger"] == ACCESS_LOGGER]


@pytest.fixture
def logged() -> Iterator[JsonLines]:
    handler = JsonLines()
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
