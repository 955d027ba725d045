"""`GET /render` end to end on the exported model: PNG, determinism, seeds, scale, JSON, errors,
and renders drawn together in one run of the model."""

import base64
import io
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from fastapi.testclient import TestClient
from metric_samples import metric_value
from PIL import Image

from service.api.render import Order, draw
from service.metrics import Metrics


def png_pixels(data: bytes) -> np.ndarray:
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG" and image.mode == "L"
    return np.asarray(image)


def test_renders_a_grayscale_84x28_png(client: TestClient) -> None:
    response = client.get("/render", params={"query": "89+56"})
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    assert png_pixels(response.content).shape == (28, 84)


def test_same_seed_same_bytes_other_seeds_differ(client: TestClient) -> None:
    def get(seed: int) -> bytes:
        return client.get("/render", params={"query": "7-19", "seed": seed}).content

    assert get(3) == get(3)
    assert len({get(s) for s in range(4)}) == 4


def test_spaces_in_the_query_do_not_change_the_image(client: TestClient) -> None:
    plain = client.get("/render", params={"query": "5-7", "seed": 1}).content
    assert client.get("/render", params={"query": " 05 - 7 ", "seed": 1}).content == plain


@pytest.mark.parametrize("scale", [1, 2, 8])
def test_scale_enlarges_by_whole_pixels(client: TestClient, scale: int) -> None:
    small = png_pixels(client.get("/render", params={"query": "81+24"}).content)
    big = png_pixels(client.get("/render", params={"query": "81+24", "scale": scale}).content)
    assert big.shape == (28 * scale, 84 * scale)
    assert np.array_equal(big[::scale, ::scale], small)


def test_json_carries_the_same_png_and_what_was_written(client: TestClient) -> None:
    params = {"query": "81+24", "seed": 2, "scale": 2}
    body = client.get("/render", params={**params, "format": "json"}).json()
    assert base64.b64decode(body["png"]) == client.get("/render", params=params).content
    assert (body["query"], body["width"], body["height"]) == ("81+24", 168, 56)
    assert body["model"] == "text2image" and len(body["written"]) <= 3


@pytest.mark.parametrize("query", ["2+3", "9-9", "50+5", "0-7"])
def test_cells_after_the_answer_are_black(client: TestClient, query: str) -> None:
    body = client.get("/render", params={"query": query, "format": "json"}).json()
    pixels = png_pixels(base64.b64decode(body["png"]))
    assert len(body["written"]) < 3, body  # these answers are one or two characters long
    assert pixels[:, 28 * len(body["written"]) :].max() < 60


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"query": "100+1"}, "over 99"),
        ({"query": "1*2"}, "unexpected"),
        ({"query": ""}, "empty"),
        ({}, "query parameter query: Field required"),
        ({"query": "1+1", "seed": -1}, "seed"),
        ({"query": "1+1", "seed": 2**32}, "seed"),
        ({"query": "1+1", "seed": "abc"}, "seed"),
        ({"query": "1+1", "scale": 0}, "scale"),
        ({"query": "1+1", "scale": 9}, "scale"),
        ({"query": "1+1", "format": "gif"}, "format"),
        ({"query": "1" * 100}, "over the limit"),
    ],
)
def test_bad_parameters_are_422(client: TestClient, params: dict, words: str) -> None:
    response = client.get("/render", params=params)
    assert response.status_code == 422 and words in response.json()["detail"]


def test_unknown_model_is_404(client: TestClient) -> None:
    response = client.get("/render", params={"query": "1+1", "model": "nope"})
    assert response.status_code == 404 and "text2image" in response.json()["detail"]


def test_a_drawing_made_with_others_is_the_one_made_alone(client: TestClient) -> None:
    chosen = client.app.state.context.registry.get("text2image")
    queries, scales = ["81+24", "1+1", "99-99", "50-7", "0+0", "66+66"], [1, 2, 1, 3, 1, 1]
    orders = [
        Order(q, seed, scale) for seed, (q, scale) in enumerate(zip(queries, scales, strict=True))
    ]
    together = draw(chosen, Metrics(), orders)
    for order, (image, cells, png) in zip(orders, together, strict=True):
        ((alone_image, alone_cells, alone_png),) = draw(chosen, Metrics(), [order])
        assert np.array_equal(image, alone_image) and np.array_equal(cells, alone_cells)
        assert png == alone_png  # the same bytes: the URL's ETag holds whatever ran beside it


def test_concurrent_renders_get_their_own_pictures(client: TestClient) -> None:
    urls = [f"/render?query={a}%2B{b}&seed={a % 5}&scale={1 + b % 2}" for a, b in
            zip(range(0, 99, 4), range(97, 0, -4), strict=False)]  # fmt: skip
    alone = [client.get(url).content for url in urls]

    def counted() -> float:  # renders counted by the model's runs
        return metric_value(client, "genseq_batched_queries_sum", model="text2image")

    before = counted()
    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(lambda url: client.get(url).content, urls)) == alone
    assert counted() - before == len(urls)  # each once, in some run
