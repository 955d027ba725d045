"""HTTP caching of the GET image endpoints: strong ETags, Cache-Control, 304 without a model run."""

import pytest
from fastapi.testclient import TestClient
from metric_samples import metric_value

from service import caching

CACHED = {  # route: (model that answers, parameters, one change to each parameter)
    "/sample": ("gan", {"n": 4, "seed": 3, "scale": 1}, {"n": 5, "seed": 4, "scale": 2}),
    "/interpolate": (
        "gan",
        {"steps": 4, "seed_a": 1, "seed_b": 2, "method": "slerp", "scale": 1},
        {"steps": 5, "seed_a": 3, "seed_b": 4, "method": "linear", "scale": 2},
    ),
    "/render": (
        "text2image",
        {"query": "81+24", "seed": 0, "scale": 1, "format": "png"},
        {"query": "81-24", "seed": 1, "scale": 2, "format": "json"},
    ),
}


def model_runs(client: TestClient, model: str) -> float:
    return metric_value(client, "genseq_inference_seconds_count", model=model)


@pytest.mark.parametrize("route", CACHED)
def test_a_matching_if_none_match_is_a_304_without_a_model_run(client: TestClient, route):
    model, params, _ = CACHED[route]
    first = client.get(route, params=params)
    tag = first.headers["etag"]
    assert first.status_code == 200 and tag.startswith('"') and tag.endswith('"')  # strong
    assert first.headers["cache-control"] == caching.CACHE_CONTROL
    runs = model_runs(client, model)
    for sent in (tag, f"W/{tag}", f'"other", {tag}', "*"):
        again = client.get(route, params=params, headers={"If-None-Match": sent})
        assert again.status_code == 304 and again.content == b"", sent
        assert again.headers["etag"] == tag
    assert model_runs(client, model) == runs
    other = client.get(route, params=params, headers={"If-None-Match": '"other"'})
    assert other.status_code == 200 and other.content == first.content
    assert other.headers["etag"] == tag


@pytest.mark.parametrize("route", CACHED)
def test_every_parameter_and_the_model_change_the_tag(client: TestClient, route):
    model, params, changes = CACHED[route]
    tag = client.get(route, params=params).headers["etag"]
    for name, value in changes.items():
        changed = client.get(route, params={**params, name: value})
        assert changed.status_code == 200 and changed.headers["etag"] != tag, name
    if route != "/render":
        assert client.get(route, params={**params, "model": "vae"}).headers["etag"] != tag


def test_the_same_answer_asked_another_way_has_the_same_tag(client: TestClient):
    tag = client.get("/sample", params={"n": 4}).headers["etag"]
    assert client.get("/sample", params={"n": 4, "model": "gan", "seed": 0}).headers["etag"] == tag
    tag = client.get("/render", params={"query": "81+24"}).headers["etag"]
    assert client.get("/render", params={"query": " 81 + 24 "}).headers["etag"] == tag


def test_the_tag_follows_the_model_file(client: TestClient):
    """Another ONNX file (another sha256) under the same name is another answer."""
    gan = next(m for m in client.app.state.context.registry.models() if m.name == "gan")
    retrained = type(gan)(gan.name, gan.task, {**gan.card, "sha256": "0" * 64}, gan.session)
    assert caching.etag(gan, "/sample", n=4) != caching.etag(retrained, "/sample", n=4)


def test_answers_to_posts_carry_no_tag(client: TestClient):
    answer = client.post("/solve/text", json={"query": "1+1"})
    assert answer.status_code == 200 and "etag" not in answer.headers
