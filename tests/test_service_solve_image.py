"""`POST /solve/image` end to end on the exported model: ways to send an image, and bad inputs."""

import io

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from service.settings import Settings
from training.data import arithmetic as ar
from training.data.strips import draw

QUERIES = ["81+24", "7-19", "99+99", "0-99", "5+5"]


@pytest.fixture(scope="module")
def strips() -> tuple[np.ndarray, list[str]]:
    """Held-out handwriting (MNIST test digits, unseen operators) of QUERIES, right-padded."""
    drawn = draw(QUERIES, "test", np.random.default_rng(3), ("right",), "left")
    return drawn.pixels.numpy(), [t.strip() for t in drawn.texts]


def encode(image: Image.Image, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


def post_raw(client: TestClient, data: bytes, media_type: str = "image/png", **params):
    return client.post("/solve/image", content=data, headers={"content-type": media_type}, **params)


VARIANTS = {
    "grayscale": lambda p: Image.fromarray(p),
    "RGB": lambda p: Image.fromarray(p).convert("RGB"),
    "RGBA": lambda p: Image.fromarray(p).convert("RGBA"),
    "palette": lambda p: Image.fromarray(p).convert("P"),
    "16-bit": lambda p: Image.fromarray(p.astype(np.uint16) * 257),
    "dark on light": lambda p: Image.fromarray(255 - p),
    "2x scaled": lambda p: Image.fromarray(p).resize((280, 56), Image.Resampling.BICUBIC),
}


def test_reads_and_answers_held_out_handwriting(client: TestClient, strips) -> None:
    pixels, texts = strips
    for strip, text in zip(pixels, texts, strict=True):
        body = post_raw(client, encode(Image.fromarray(strip))).json()
        assert body["model"] == "image2text"
        if body["expression"] == text:  # one misread in five is possible; a wrong sum is not
            assert body["answer"] == ar.answer(text), body
    right = [post_raw(client, encode(Image.fromarray(p))).json()["expression"] for p in pixels]
    assert sum(r == t for r, t in zip(right, texts, strict=True)) >= 4, right


def test_multipart_and_raw_bodies_agree(client: TestClient, strips) -> None:
    data = encode(Image.fromarray(strips[0][0]))
    raw = post_raw(client, data).json()
    multipart = client.post("/solve/image", files={"file": ("strip.png", data, "image/png")})
    assert multipart.status_code == 200 and multipart.json() == raw


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_image_kind_reads_like_the_plain_strip(client: TestClient, strips, variant) -> None:
    for strip in strips[0]:
        plain = post_raw(client, encode(Image.fromarray(strip))).json()
        assert post_raw(client, encode(VARIANTS[variant](strip))).json() == plain


def test_jpeg_is_accepted(client: TestClient, strips) -> None:
    data = encode(Image.fromarray(strips[0][0]), "JPEG")
    response = post_raw(client, data, "image/jpeg")
    assert response.status_code == 200 and set(response.json()) == {"answer", "expression", "model"}


def test_a_blank_strip_gets_an_answer_not_an_error(client: TestClient) -> None:
    response = post_raw(client, encode(Image.new("L", (140, 28), 255)))
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("data", "media_type", "status", "words"),
    [
        (b"", "image/png", 422, "empty"),
        (b"plain text, not a picture", "image/png", 422, "not a PNG or JPEG"),
        (encode(Image.new("L", (140, 28)), "GIF"), "image/png", 422, "not a PNG or JPEG"),
        (encode(Image.new("L", (140, 28)))[:60], "image/png", 422, "corrupt or truncated"),
        (encode(Image.new("L", (28, 28))), "image/png", 422, "aspect 1.00:1"),
        (encode(Image.new("L", (2500, 500))), "image/png", 422, "at most 2048 pixels"),
        (encode(Image.new("L", (140, 28))), "text/plain", 415, "multipart/form-data"),
        (encode(Image.new("L", (140, 28))), "application/json", 415, "image/png or image/jpeg"),
        (encode(Image.new("L", (140, 28))), "multipart/form-data", 400, "boundary"),
    ],
    ids=["empty", "text", "gif", "truncated", "square", "huge", "text type", "json", "no boundary"],
)
def test_bad_bodies_get_a_reason(client: TestClient, data, media_type, status, words) -> None:
    response = post_raw(client, data, media_type)
    assert response.status_code == status, response.text
    assert words in response.json()["detail"]


def test_body_without_content_type_is_415(client: TestClient) -> None:
    response = client.post("/solve/image", content=encode(Image.new("L", (140, 28))))
    assert response.status_code == 415 and "without Content-Type" in response.json()["detail"]


def test_multipart_without_the_file_field_is_422(client: TestClient) -> None:
    data = encode(Image.new("L", (140, 28)))
    response = client.post("/solve/image", files={"image": ("s.png", data, "image/png")})
    assert response.status_code == 422 and "'file'" in response.json()["detail"]
    as_text = client.post("/solve/image", files={"file": (None, "not a file")})
    assert as_text.status_code == 422 and "'file'" in as_text.json()["detail"]


def test_oversized_bodies_are_413_declared_or_streamed(
    client: TestClient, settings: Settings
) -> None:
    big = b"\x89PNG" + bytes(settings.max_body_bytes)
    assert post_raw(client, big).status_code == 413
    chunks = (big[i : i + 65536] for i in range(0, len(big), 65536))  # no Content-Length
    streamed = client.post("/solve/image", content=chunks, headers={"content-type": "image/png"})
    assert streamed.status_code == 413 and "at most" in streamed.json()["detail"]
    multipart = client.post("/solve/image", files={"file": ("s.png", big, "image/png")})
    assert multipart.status_code == 413


def test_unknown_model_is_404(client: TestClient, strips) -> None:
    response = post_raw(client, encode(Image.fromarray(strips[0][0])), params={"model": "nope"})
    assert response.status_code == 404 and "image2text" in response.json()["detail"]


def test_documented_in_openapi(client: TestClient) -> None:
    body = client.get("/openapi.json").json()["paths"]["/solve/image"]["post"]["requestBody"]
    assert set(body["content"]) == {
        "multipart/form-data",
        "image/png",
        "image/jpeg",
        "application/octet-stream",
    }
