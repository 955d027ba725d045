"""The requests the benchmark sends, and the model input each one becomes.

Each endpoint carries the exact HTTP request (for the servers) and the feeds the service would
build from it (for raw onnxruntime), made with the service's own helpers, so both floors compute
what the service computes for that request.
"""

import io
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from service.arithmetic import TextCodec
from service.images import StripShape, read_strip
from service.latents import from_seed, path
from training.data.strips import make_strips

QUERY = "81+24"
SAMPLE_N = 16
INTERPOLATE_STEPS = 8
MAX_IMAGE_SIDE = 2048  # the service's default limit; the strip is far below it

Feeds = dict[str, np.ndarray]


@dataclass(frozen=True)
class Request:
    """One HTTP request, as bytes on the wire would say it."""

    method: str
    path: str
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Endpoint:
    """A request, the model folder it runs, and how many items (queries, images) it yields."""

    name: str
    request: Request
    model: str
    items: int
    unit: str
    feeds: Callable[[dict[str, Any]], Feeds]  # the model card -> the session's input


def strip_png(query: str = QUERY) -> bytes:
    """A handwritten strip of ``query`` (MNIST test digits), as `python -m training strip` draws."""
    pixels, _ = make_strips([query], "test", np.random.default_rng(0), ("right",))
    buffer = io.BytesIO()
    Image.fromarray(pixels[0]).save(buffer, "PNG")
    return buffer.getvalue()


def text() -> Endpoint:
    def feeds(card: dict[str, Any]) -> Feeds:
        return {card["inputs"][0]["name"]: TextCodec.from_card(card).encode([QUERY])}

    body = json.dumps({"query": QUERY}).encode()
    request = Request("POST", "/solve/text", body, {"content-type": "application/json"})
    return Endpoint("POST /solve/text", request, "text2text", 1, "queries", feeds)


def sample() -> Endpoint:
    def feeds(card: dict[str, Any]) -> Feeds:
        return {"z": from_seed(0, SAMPLE_N, card["latent"])}

    request = Request("GET", f"/sample?n={SAMPLE_N}&seed=0")
    return Endpoint(f"GET /sample?n={SAMPLE_N}", request, "gan", SAMPLE_N, "images", feeds)


def render() -> Endpoint:
    def feeds(card: dict[str, Any]) -> Feeds:
        style = from_seed(0, 1, card["style"]["latent"])
        return {"query": TextCodec.from_card(card).encode([QUERY]), "style": style}

    request = Request("GET", "/render?query=81%2B24&seed=0")
    return Endpoint("GET /render", request, "text2image", 1, "images", feeds)


def image() -> Endpoint:
    png = strip_png()

    def feeds(card: dict[str, Any]) -> Feeds:
        strip = read_strip(png, StripShape.from_card(card), MAX_IMAGE_SIDE)
        return {card["inputs"][0]["name"]: strip[np.newaxis, np.newaxis]}

    request = Request("POST", "/solve/image", png, {"content-type": "image/png"})
    return Endpoint("POST /solve/image", request, "image2text", 1, "strips", feeds)


def interpolate() -> Endpoint:
    def feeds(card: dict[str, Any]) -> Feeds:
        a, b = from_seed(1, 1, card["latent"])[0], from_seed(2, 1, card["latent"])[0]
        return {"z": path(a, b, INTERPOLATE_STEPS, "slerp")}

    name = f"GET /interpolate?steps={INTERPOLATE_STEPS}"
    request = Request("GET", f"/interpolate?steps={INTERPOLATE_STEPS}&seed_a=1&seed_b=2")
    return Endpoint(name, request, "gan", INTERPOLATE_STEPS, "images", feeds)


# The benchmarked endpoints by short name, in the order they are measured; each is built only when
# asked for (the strip needs MNIST).
ENDPOINTS: dict[str, Callable[[], Endpoint]] = {
    "text": text,
    "sample": sample,
    "render": render,
    "image": image,
    "interpolate": interpolate,
}


def build(names: Iterable[str]) -> dict[str, Endpoint]:
    return {name: ENDPOINTS[name]() for name in names}
