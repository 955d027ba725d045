"""service/revalidation.py: a 304 answered beside FastAPI must be the route's very 304, and only
URLs the route has tagged since the app started are answered so."""

import pytest
from fastapi.testclient import TestClient
from metric_samples import metric_value

from service import caching
from service.main import create_app

URL = "/sample?n=4&seed=7"


@pytest.fixture
def tagged(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The routes that computed a tag (the fast path never does)."""
    computed: list[str] = []
    etag = caching.etag

    def counted(model, route, **params):
        computed.append(route)
        return etag(model, route, **params)

    monkeypatch.setattr(caching, "etag", counted)
    return computed


@pytest.fixture
def fresh(settings) -> TestClient:
    """A started app of its own: no URL tagged yet."""
    with TestClient(create_app(settings)) as started:
        yield started


def without_id(headers) -> list[tuple[str, str]]:
    return [(k, v) for k, v in headers.multi_items() if k != "x-request-id"]


def test_a_revalidation_gets_the_routes_very_304(fresh: TestClient, client, tagged) -> None:
    tag = client.get(URL).headers["etag"]
    tagged.clear()
    route = fresh.get(URL, headers={"If-None-Match": tag})  # not tagged here yet: the route's
    assert tagged == ["/sample"]
    fast = fresh.get(URL, headers={"If-None-Match": tag})
    assert tagged == ["/sample"]  # taken: no route ran
    assert fast.status_code == route.status_code == 304 and fast.content == route.content == b""
    assert without_id(fast.headers) == without_id(route.headers)
    assert fast.headers["x-request-id"] != route.headers["x-request-id"]  # the middleware's


@pytest.mark.parametrize(
    "url, sent",
    [
        ("/sample?seed=7&n=4", "tag"),  # the same answer under another URL: not tagged yet
        (URL, '"other"'),  # another tag: the route answers 200
        (URL, None),
        ("/render?query=1%2B1", "tag"),
    ],
)
def test_anything_else_reaches_the_route(fresh: TestClient, tagged, url, sent) -> None:
    tag = fresh.get(URL).headers["etag"]
    tagged.clear()
    headers = {} if sent is None else {"If-None-Match": tag if sent == "tag" else sent}
    response = fresh.get(url, headers=headers)
    assert tagged == [url.split("?")[0]]
    assert response.status_code == (304 if url.startswith("/sample?seed") else 200)


@pytest.mark.parametrize("first_names_the_tag", [True, False])
def test_of_two_if_none_match_headers_the_first_counts_as_on_the_route(
    fresh: TestClient, first_names_the_tag: bool
) -> None:
    tag = fresh.get(URL).headers["etag"]
    sent = [tag, '"other"'] if first_names_the_tag else ['"other"', tag]
    response = fresh.get(URL, headers=[("If-None-Match", value) for value in sent])
    assert response.status_code == (304 if first_names_the_tag else 200)


def test_a_post_with_a_tag_is_never_taken(fresh: TestClient, tagged) -> None:
    tag = fresh.get(URL).headers["etag"]
    response = fresh.post(URL, headers={"If-None-Match": tag})
    assert response.status_code == 405 and tagged == ["/sample"]


def test_taken_revalidations_are_counted_under_the_routes_label(fresh: TestClient, tagged):
    def count() -> float:
        labels = {"method": "GET", "route": "/sample", "status": "304"}
        return metric_value(fresh, "genseq_http_requests_total", **labels)

    tag = fresh.get(URL).headers["etag"]
    for _ in range(3):
        assert fresh.get(URL, headers={"If-None-Match": tag}).status_code == 304
    assert count() == 3 and tagged == ["/sample"]


def test_a_revalidation_whose_client_left_is_counted_all_the_same(fresh: TestClient) -> None:
    tag = fresh.get(URL).headers["etag"]
    scope = {"type": "http", "method": "GET", "path": "/sample", "query_string": b"n=4&seed=7",
             "headers": [(b"if-none-match", tag.encode())]}  # fmt: skip

    async def gone(message: dict) -> None:
        raise OSError("the client went away")

    with pytest.raises(OSError):
        fresh.portal.call(fresh.app, scope, None, gone)
    labels = {"method": "GET", "route": "/sample", "status": "304"}
    assert metric_value(fresh, "genseq_http_requests_total", **labels) == 1


def test_a_restart_forgets_every_tag(settings) -> None:
    app = create_app(settings)
    with TestClient(app) as started:
        started.get(URL)
        assert app.state.context.tags.get("/sample", b"n=4&seed=7") is not None
    with TestClient(app):
        assert app.state.context.tags.get("/sample", b"n=4&seed=7") is None


def test_issued_tags_are_bounded() -> None:
    tags = caching.IssuedTags()
    tags.limit = 2

    def scope(query: bytes) -> dict:
        return {"path": "/sample", "query_string": query, "route": None}

    for query in (b"seed=1", b"seed=2", b"seed=3", b"seed=4&" + b"x" * tags.longest):
        assert tags.issue(scope(query), f'"{query[:6].decode()}"') == f'"{query[:6].decode()}"'
    assert tags.get("/sample", b"seed=1") is None  # the oldest, forgotten
    assert tags.get("/sample", b"seed=3").tag == '"seed=3"'
    assert tags.get("/sample", b"seed=4&" + b"x" * tags.longest) is None  # too long to keep
