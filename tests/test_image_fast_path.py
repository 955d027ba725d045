"""service/image_fast_path.py: plain GETs of /sample and /render answered beside FastAPI must be
indistinguishable from the route's answers, and everything else must reach the route untouched."""

import dataclasses

import pytest
from fastapi.testclient import TestClient
from metric_samples import metric_value

from service import image_fast_path


@pytest.fixture
def taken(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """The parameters of each request the fast path answered (the route's are not counted)."""
    answered: list[dict] = []

    def counting(get: image_fast_path.ImageGet) -> image_fast_path.ImageGet:
        async def png(context, chosen, **params):
            answered.append(params)
            return await get.png(context, chosen, **params)

        return dataclasses.replace(get, png=png)

    routes = {path: counting(get) for path, get in image_fast_path.ROUTES.items()}
    monkeypatch.setattr(image_fast_path, "ROUTES", routes)
    return answered


@pytest.mark.parametrize(
    "url, model",
    [
        ("/sample", "gan"),
        ("/sample?n=4&seed=7", "gan"),
        ("/sample?scale=3&n=1&seed=4294967295", "gan"),
        ("/render?query=81%2B24", "text2image"),
        ("/render?query=+5+-+07+&seed=3&scale=2&format=png", "text2image"),
    ],
)
def test_a_taken_request_gets_the_routes_very_answer(client: TestClient, taken, url, model):
    fast = client.get(url)
    # Naming the default model is never taken: this is the route's answer.
    route = client.get(url + ("&" if "?" in url else "?") + f"model={model}")
    assert len(taken) == 1 and fast.status_code == route.status_code == 200
    assert fast.content == route.content
    for header in ("content-type", "content-length", "etag", "cache-control"):
        assert fast.headers[header] == route.headers[header]
    assert fast.headers["x-request-id"] != route.headers["x-request-id"]  # the middleware's


@pytest.mark.parametrize(
    "url, status",
    [
        ("/sample?n=0", 422),
        ("/sample?n=257", 422),
        ("/sample?n=", 422),
        ("/sample?n=1e2", 422),
        ("/sample?n=%2B5", 200),  # "+5": FastAPI reads it, the fast path does not
        ("/sample?n=%D9%A3", 422),  # an Arabic-Indic 3
        ("/sample?n=4&n=5", 200),  # FastAPI takes the last
        ("/sample?seed=-1", 422),
        ("/sample?seed=4294967296", 422),
        ("/sample?seed=" + "9" * 5000, 422),
        ("/sample?scale=9", 422),
        ("/sample?extra=1", 200),
        ("/sample?model=vae", 200),
        ("/sample?model=nope", 404),
        ("/render", 422),
        ("/render?query=7*7", 422),
        ("/render?query=1%2B1&format=json", 200),
        ("/render?query=1%2B1&format=gif", 422),
        ("/interpolate", 200),
    ],
)
def test_anything_else_reaches_the_route(client: TestClient, taken, url, status) -> None:
    response = client.get(url)
    assert response.status_code == status and taken == []
    if status != 200:
        assert "detail" in response.json()


def test_a_revalidation_is_never_taken(client: TestClient, taken) -> None:
    tag = client.get("/sample?n=2&seed=11").headers["etag"]
    assert len(taken) == 1
    assert client.get("/sample?n=2&seed=11", headers={"if-none-match": tag}).status_code == 304
    assert client.get("/sample?n=2&seed=12", headers={"if-none-match": tag}).status_code == 200
    assert len(taken) == 1  # the route answered both


def test_taken_requests_are_counted_under_the_routes_label(client: TestClient, taken) -> None:
    def count() -> float:
        labels = {"method": "GET", "route": "/render", "status": "200"}
        return metric_value(client, "genseq_http_requests_total", **labels)

    before = count()
    for seed in range(3):
        client.get(f"/render?query=3%2B3&seed={seed}")
    assert count() == before + 3 and len(taken) == 3


@pytest.mark.parametrize("path", sorted(image_fast_path.ROUTES))
def test_the_parameters_are_the_routes_own(client: TestClient, path: str) -> None:
    """Names, defaults and integer bounds as the route declares them in the OpenAPI document."""
    declared = client.get("/openapi.json").json()["paths"][path]["get"]["parameters"]
    schemas = {p["name"]: p["schema"] for p in declared}
    context = client.app.state.context
    params = image_fast_path.ROUTES[path].params
    assert params.keys() == schemas.keys() - {"model"}
    for name, (read, default) in params.items():
        schema = schemas[name]
        assert default == schema.get("default")
        if schema.get("type") == "integer":
            low, high = schema["minimum"], schema["maximum"]
            assert read(str(low), context) == low and read(str(high), context) == high
            assert read(str(high + 1), context) is None and read(str(low - 1), context) is None
