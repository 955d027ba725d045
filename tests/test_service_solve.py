"""`POST /solve/text` end to end on the exported model: answers, and every kind of bad input."""

import random

import pytest
from fastapi.testclient import TestClient

from service.schemas import ONE_OF_QUERY
from service.settings import Settings

ALLOWED = "from 0 to 99"


def solve(a: int, op: str, b: int) -> str:
    return str(a + b if op == "+" else a - b)


def random_queries(n: int, seed: int) -> list[tuple[int, str, int]]:
    rng = random.Random(seed)
    return [(rng.randint(0, 99), rng.choice("+-"), rng.randint(0, 99)) for _ in range(n)]


def test_single_query(client: TestClient) -> None:
    response = client.post("/solve/text", json={"query": "81+24"})
    assert response.status_code == 200
    body = response.json()
    assert body["query"] == "81+24" and body["model"] == "text2text"
    assert body["answer"].lstrip("-").isdigit()


def test_spaces_and_leading_zeros_are_normalised(client: TestClient) -> None:
    spaced = client.post("/solve/text", json={"query": " 5 - 7 "}).json()
    plain = client.post("/solve/text", json={"query": "05-7"}).json()
    assert spaced["query"] == plain["query"] == "5-7"
    assert spaced["answer"] == plain["answer"]


def test_batch_answers_in_order_and_mostly_right(client: TestClient) -> None:
    triples = random_queries(1000, seed=1)
    response = client.post("/solve/text", json={"queries": [f"{a}{o}{b}" for a, o, b in triples]})
    assert response.status_code == 200
    answers = response.json()["answers"]
    assert len(answers) == len(triples)
    right = sum(ans == solve(*t) for ans, t in zip(answers, triples, strict=True))
    assert right / len(triples) >= 0.95, f"only {right} of {len(triples)} right"


def test_batch_matches_single_queries(client: TestClient) -> None:
    queries = [f"{a}{o}{b}" for a, o, b in random_queries(20, seed=2)]
    batch = client.post("/solve/text", json={"queries": queries}).json()["answers"]
    singles = [client.post("/solve/text", json={"query": q}).json()["answer"] for q in queries]
    assert batch == singles


def test_largest_batch_is_accepted(client: TestClient, settings: Settings) -> None:
    queries = ["1+1"] * settings.max_batch
    response = client.post("/solve/text", json={"queries": queries})
    assert response.status_code == 200 and len(response.json()["answers"]) == settings.max_batch


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"query": "ab+1"}, ["query:", "unexpected 'ab'", ALLOWED]),
        ({"query": "100+1"}, ["over 99", ALLOWED]),
        ({"query": "-5+3"}, ["negative operand '-5'", ALLOWED]),
        ({"query": "5*3"}, ["unexpected '*'", ALLOWED]),
        ({"query": ""}, ["empty", ALLOWED]),
        ({"query": "   "}, ["empty", ALLOWED]),
        ({"query": "1" * 65}, ["over the limit of 64", ALLOWED]),
        ({"query": "12"}, ["no operator", ALLOWED]),
        ({"queries": ["1+1", "2+2", "x", "4+4"]}, ["queries[2]:", ALLOWED]),
        ({"queries": ["a", "b", "c", "d", "e"]}, ["queries[0]", "(and 2 more)", ALLOWED]),
        ({"queries": []}, ["'queries' is an empty list", ONE_OF_QUERY]),
        ({"queries": ["1+1"] * 4097}, ["4097 queries sent", "1 to 4096"]),
        ({"query": 5}, ["'query' is a number", ONE_OF_QUERY]),
        ({"query": None}, ["'query' is null", ONE_OF_QUERY]),
        ({"queries": "81+24"}, ["'queries' is a string", ONE_OF_QUERY]),
        ({"queries": ["1+1", 7]}, ["queries[1] is a number", ONE_OF_QUERY]),
        ({"queries": [["1+1"]]}, ["queries[0] is a list", ONE_OF_QUERY]),
        ({"query": "1+1", "queries": ["1+1"]}, ["exactly one of 'query'", "'queries'"]),
        ({}, ["exactly one of 'query'"]),
        ([1, 2], ["the body is a list", ONE_OF_QUERY]),
        ("81+24", ["the body is a string", ONE_OF_QUERY]),
    ],
)
def test_bad_input_is_422_saying_what_is_allowed(
    client: TestClient, body: object, expected: list[str]
) -> None:
    response = client.post("/solve/text", json=body)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert isinstance(detail, str)
    for fragment in expected:
        assert fragment in detail


def test_missing_body_is_422(client: TestClient) -> None:
    response = client.post("/solve/text")
    assert response.status_code == 422
    assert "body is missing" in response.json()["detail"]
    assert "JSON object" in response.json()["detail"]


def test_malformed_json_is_422(client: TestClient) -> None:
    response = client.post(
        "/solve/text", content=b'{"query": ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert "not valid JSON" in response.json()["detail"]
    assert "send a JSON object" in response.json()["detail"]


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_non_json_content_type_is_415(client: TestClient, content_type: str | None) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = client.post("/solve/text", content=b'{"query": "1+1"}', headers=headers)
    assert response.status_code == 415
    assert "application/json" in response.json()["detail"]


def test_json_with_charset_is_accepted(client: TestClient) -> None:
    headers = {"content-type": "application/json; charset=utf-8"}
    response = client.post("/solve/text", content=b'{"query": "1+1"}', headers=headers)
    assert response.status_code == 200


def test_body_over_the_limit_is_413(client: TestClient, settings: Settings) -> None:
    big = b'{"query": "' + b" " * settings.max_body_bytes + b'1+1"}'
    response = client.post("/solve/text", content=big, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert f"at most {settings.max_body_bytes} bytes" in response.json()["detail"]


def test_streamed_body_over_the_limit_is_413(client: TestClient, settings: Settings) -> None:
    chunk = b" " * (settings.max_body_bytes // 2)
    chunks = iter([b'{"query": "', chunk, chunk, chunk, b'1+1"}'])  # no Content-Length
    response = client.post(
        "/solve/text", content=chunks, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


def test_unknown_model_is_404_listing_the_models(client: TestClient) -> None:
    response = client.post("/solve/text", params={"model": "nope"}, json={"query": "1+1"})
    assert response.status_code == 404
    assert "'nope'" in response.json()["detail"] and "text2text" in response.json()["detail"]


def test_named_model_is_used(client: TestClient) -> None:
    response = client.post("/solve/text", params={"model": "text2text"}, json={"query": "1+1"})
    assert response.status_code == 200 and response.json()["model"] == "text2text"
