"""The naive server: the same models in eager torch behind FastAPI, as a first version would be.

Each route is an `async def` that calls torch directly, so requests run one at a time on the event
loop, each with torch's default intra-op threads (`OMP_NUM_THREADS` sets them; /ready tells how
many); no batching, no thread pool, no middleware.
Input parsing and PNG encoding are the service's own helpers, so the difference to the service is
the serving stack and the runtime, not the pre- and post-processing. It serves only what the
benchmark sends (no 4xx handling beyond FastAPI's).
"""

import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

import numpy as np
import torch
from fastapi import FastAPI, Request, Response
from pydantic import BaseModel

from bench.servers import serve
from bench.torch_models import load
from service.arithmetic import TextCodec, parse_query, spell
from service.images import StripShape, read_strip
from service.latents import from_seed, path
from service.png import tile, to_png
from service.settings import Settings

MODELS = ("text2text", "gan", "text2image", "image2text")


class Query(BaseModel):
    query: str


def run(module: torch.nn.Module, *inputs: np.ndarray) -> tuple[np.ndarray, ...]:
    with torch.inference_mode():
        out = module(*(torch.from_numpy(x) for x in inputs))
    return tuple(o.numpy() for o in (out if isinstance(out, tuple) else (out,)))


def create_app() -> FastAPI:
    settings = Settings()
    models: dict[str, tuple[torch.nn.Module, dict]] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        models.update({name: load(settings.models_dir / name) for name in MODELS})
        yield

    app = FastAPI(lifespan=lifespan)

    @app.get("/ready")
    async def ready() -> dict[str, str | int]:
        return {"status": "ready", "torch_threads": torch.get_num_threads()}

    @app.post("/solve/text")
    async def solve_text(body: Query) -> dict[str, str]:
        module, card = models["text2text"]
        codec = TextCodec.from_card(card)
        query = parse_query(body.query, settings.max_query_chars)
        (probs,) = run(module, codec.encode([query]))
        return {"query": query, "answer": codec.decode(probs)[0], "model": card["name"]}

    @app.get("/sample")
    async def sample(n: int = 16, seed: int = 0) -> Response:
        module, card = models["gan"]
        (images,) = run(module, from_seed(seed, n, card["latent"]))
        return Response(to_png(tile(images, math.ceil(math.sqrt(n)))), media_type="image/png")

    @app.get("/interpolate")
    async def interpolate(
        steps: int = 8,
        seed_a: int = 1,
        seed_b: int = 2,
        method: Literal["linear", "slerp"] = "slerp",
    ) -> Response:
        module, card = models["gan"]
        a, b = from_seed(seed_a, 1, card["latent"])[0], from_seed(seed_b, 1, card["latent"])[0]
        (images,) = run(module, path(a, b, steps, method))
        return Response(to_png(tile(images, steps)), media_type="image/png")

    @app.get("/render")
    async def render(query: str, seed: int = 0) -> Response:
        module, card = models["text2image"]
        codec = TextCodec.from_card(card)
        canonical = parse_query(query, settings.max_query_chars)
        style = from_seed(seed, 1, card["style"]["latent"])
        image, _ = run(module, codec.encode([canonical]), style)
        return Response(to_png(image[0, 0]), media_type="image/png")

    @app.post("/solve/image")
    async def solve_image(request: Request) -> dict[str, str]:
        module, card = models["image2text"]
        strip = read_strip(
            await request.body(), StripShape.from_card(card), settings.max_image_side
        )
        answer, symbols = run(module, strip[np.newaxis, np.newaxis])
        spelled = spell(card["symbols"], answer)[0], spell(card["symbols"], symbols)[0]
        return {"answer": spelled[0], "expression": spelled[1], "model": card["name"]}

    return app


if __name__ == "__main__":
    serve("bench.naive:create_app")
