"""service/fast_path.py: single text queries answered beside FastAPI must be indistinguishable
from the route's answers, and everything else must reach the route untouched."""

import json

import pytest
from fastapi.testclient import TestClient
from metric_samples import metric_value

from service import fast_path


@pytest.fixture
def taken(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The queries the fast path answered (the route's own calls are not counted)."""
    answered: list[str] = []
    answer = fast_path.answer_one

    async def counted(context, chosen, query):
        answered.append(query)
        return await answer(context, chosen, query)

    monkeypatch.setattr(fast_path, "answer_one", counted)
    return answered


@pytest.mark.parametrize("query", ["81+24", "0+0", " 5 - 07 ", "99-99", "1 + 1"])
def test_a_taken_query_gets_the_routes_very_bytes(client: TestClient, taken, query) -> None:
    fast = client.post("/solve/text", json={"query": query})
    # A query string (even naming the default model) is never taken: this is the route's answer.
    route = client.post("/solve/text?model=text2text", json={"query": query})
    assert len(taken) == 1 and fast.status_code == route.status_code == 200
    assert fast.content == route.content
    assert fast.headers["content-type"] == route.headers["content-type"] == "application/json"
    assert fast.headers["content-length"] == route.headers["content-length"]
    assert fast.headers["x-request-id"] != route.headers["x-request-id"]  # the middleware's


def test_json_with_a_charset_is_taken(client: TestClient, taken) -> None:
    headers = {"content-type": "application/json; charset=utf-8"}
    response = client.post("/solve/text", content=b'{"query": "2+3"}', headers=headers)
    assert response.json()["answer"] == "5" and taken == ["2+3"]


def chunks(body: bytes):
    yield body  # a generator body is sent chunked: no Content-Length


@pytest.mark.parametrize(
    "content, headers, status",
    [
        ('{"query": "1+1", "extra": 1}', {}, 200),  # more than one key
        ('{"queries": ["1+1"]}', {}, 200),
        ('{"query": "100+1"}', {}, 422),
        ('{"query": 5}', {}, 422),
        ('["1+1"]', {}, 422),
        ('{"query": "1+1"', {}, 422),
        ("", {}, 422),
        ('{"query": "1+1"}', {"content-type": "text/plain"}, 415),
        ('{"query": "1+1"}', {"content-type": "application/vnd.x+json"}, 200),
        ('{"query": "1+1"%s}' % (" " * fast_path.MAX_BODY), {}, 200),  # over MAX_BODY
    ],
)
def test_anything_else_reaches_the_route(client: TestClient, taken, content, headers, status):
    headers = {"content-type": "application/json", **headers}
    response = client.post("/solve/text", content=content.encode(), headers=headers)
    assert response.status_code == status and taken == []
    assert ("detail" in response.json()) == (status != 200)


def test_a_chunked_body_reaches_the_route(client: TestClient, taken) -> None:
    headers = {"content-type": "application/json"}
    response = client.post("/solve/text", content=chunks(b'{"query": "4+4"}'), headers=headers)
    assert response.json()["answer"] == "8" and taken == []


def test_a_bad_query_falls_back_with_the_routes_own_error(client: TestClient, taken) -> None:
    body = {"query": "7*7"}
    fast = client.post("/solve/text", json=body)
    route = client.post("/solve/text?model=text2text", json=body)
    assert taken == [] and fast.status_code == 422 and fast.json() == route.json()


def test_taken_requests_are_counted_under_the_routes_label(client: TestClient, taken) -> None:
    def count() -> float:
        labels = {"method": "POST", "route": "/solve/text", "status": "200"}
        return metric_value(client, "genseq_http_requests_total", **labels)

    before = count()
    for _ in range(3):
        client.post("/solve/text", json={"query": "3+3"})
    assert count() == before + 3 and len(taken) == 3
    assert json.loads(client.get("/openapi.json").text)["paths"]["/solve/text"]["post"]
