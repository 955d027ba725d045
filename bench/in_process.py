"""What the app's own request handling costs, without sockets: requests driven straight into the
ASGI app, 8 in flight, models run for real.

`python -m bench.in_process`: CPU milliseconds a request (the process's, worker threads
included), best of several interleaved rounds, for each fast path and the route it stands in for:

- a single `POST /solve/text` query as is, which service/fast_path.py answers, and with
  `?model=text2text`, which it leaves to FastAPI's route (same model, same answer);
- a `GET /sample` revalidation (`If-None-Match` holding its tag, a 304) of the same URL, which
  service/revalidation.py answers, and of a new URL each time (an unknown parameter the route
  ignores), which only the route can;
- a bare ASGI app answering constant JSON (no model): the floor;
- `GET /sample?n=16` and `GET /render` with a new seed each time (no cache), as is, which
  service/image_fast_path.py answers, and naming the default model, which it leaves to the
  route, beside their model's run alone called in a loop: what each way adds to the model
  (parsing, the hop to a worker thread, the PNG, the response). Renders in flight together share
  model runs (service/batching.py), so a render can cost less than its model's run alone.
"""

import argparse
import asyncio
import itertools
import json
import time
from collections.abc import Callable

from bench.batch_sizes import cpu_ms as model_cpu_ms
from bench.endpoints import Endpoint, render, sample
from service.main import create_app
from service.settings import Settings

QUERY_BODY = b'{"query": "81+24"}'
SAMPLE = b"n=16&seed=1"
Call = Callable[[], dict]  # a fresh ASGI scope and body, with the status expected


def scope(method: str, path: str, query: bytes, headers: list[tuple[bytes, bytes]]) -> dict:
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
            "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": query,
            "root_path": "", "headers": headers, "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 80)}  # fmt: skip


def text_query(query_string: bytes) -> Call:
    headers = [(b"content-type", b"application/json"), (b"content-length", b"18")]
    return lambda: {"scope": scope("POST", "/solve/text", query_string, headers),
                    "body": QUERY_BODY, "status": 200}  # fmt: skip


def revalidation(tag: bytes, new_url_each_time: bool) -> Call:
    numbers = itertools.count()

    def call() -> dict:
        query = SAMPLE + (b"&r=%d" % next(numbers) if new_url_each_time else b"")
        headers = [(b"if-none-match", tag)]
        return {"scope": scope("GET", "/sample", query, headers), "body": b"", "status": 304}

    return call


async def request(app, call: Call) -> list[dict]:
    """One request; fails unless it is answered with the expected status."""
    spec = call()
    messages = [{"type": "http.request", "body": spec["body"], "more_body": False}]
    sent = []

    async def receive() -> dict:
        return messages.pop() if messages else await asyncio.Event().wait()

    async def send(message: dict) -> None:
        sent.append(message)

    await app(spec["scope"], receive, send)
    if sent[0]["status"] != spec["status"]:
        raise RuntimeError(f"{sent[0]['status']}: {sent[1].get('body')!r}")
    return sent


async def bare(scope: dict, receive, send) -> None:
    """The floor: read the body, parse it, answer constant JSON."""
    query = json.loads((await receive())["body"])["query"]
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})  # fmt: skip
    await send({"type": "http.response.body", "body": json.dumps({"query": query}).encode()})


async def cpu_ms(app, call: Call, requests: int, in_flight: int = 8) -> float:
    async def client() -> None:
        for _ in range(requests // in_flight):
            await request(app, call)

    started = time.process_time()
    await asyncio.gather(*(client() for _ in range(in_flight)))
    return (time.process_time() - started) / requests * 1e3


def fresh_image(endpoint: Endpoint, extra: bytes = b"") -> Call:
    """The benchmark's request of ``endpoint`` with a new seed each time: each runs the model."""
    path, _, query = endpoint.request.path.partition("?")
    fixed = query.encode().replace(b"&seed=0", b"") + extra
    seeds = itertools.count(1)
    return lambda: {"scope": scope("GET", path, fixed + b"&seed=%d" % next(seeds), []),
                    "body": b"", "status": 200}  # fmt: skip


async def main(requests: int, rounds: int) -> None:
    app = create_app(Settings(log_level="warning"))  # no access line: it is not the app's work
    async with app.router.lifespan_context(app):
        first = await request(app, lambda: {"scope": scope("GET", "/sample", SAMPLE, []),
                                            "body": b"", "status": 200})  # fmt: skip
        tag = dict(first[0]["headers"])[b"etag"]
        ways = {
            "text query, fast path": (app, text_query(b"")),
            "text query, route": (app, text_query(b"model=text2text")),
            "304, fast path": (app, revalidation(tag, False)),
            "304, route": (app, revalidation(tag, True)),
            "bare ASGI app": (bare, text_query(b"")),
        }
        endpoints = {e.name: e for e in (sample(), render())}
        images = {}
        for name, endpoint in endpoints.items():
            images[f"{name}, fast path"] = fresh_image(endpoint)
            images[f"{name}, route"] = fresh_image(endpoint, b"&model=" + endpoint.model.encode())
        image_requests = max(8, requests // 10)  # a model run each: ten times fewer
        for target, call in ways.values():
            await cpu_ms(target, call, requests // 10)  # warm-up
        best = dict.fromkeys([*ways, *images], float("inf"))
        for _ in range(rounds):
            for name, (target, call) in ways.items():
                best[name] = min(best[name], await cpu_ms(target, call, requests))
            for name, call in images.items():
                best[name] = min(best[name], await cpu_ms(app, call, image_requests))
        alone = {}  # each model's run as raw onnxruntime runs it in the load benchmark
        for name, endpoint in endpoints.items():
            model = app.state.context.registry.get(("gan", "text2image"), endpoint.model)
            alone[name] = model_cpu_ms(model, endpoint.feeds(model.card))
    for name in ways:
        print(f"{name:22} {best[name]:.3f} CPU ms a request")
    for what in ("text query", "304"):
        ratio = best[f"{what}, fast path"] / best[f"{what}, route"]
        print(f"{what}: fast path / route {ratio:.2f}x the CPU")
    for name, run in alone.items():
        fast, route = best[f"{name}, fast path"], best[f"{name}, route"]
        print(
            f"{name}: fast path {fast:.3f}, route {route:.3f}, model run alone {run:.3f} CPU ms "
            f"(fast path / run {fast / run:.2f}x, route / run {route / run:.2f}x)"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=4000, help="per round and way")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.rounds))
