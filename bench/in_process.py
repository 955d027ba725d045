"""What the app's own request handling costs, without sockets: single `POST /solve/text` queries
driven straight into the ASGI app, 8 in flight, the model run for real.

`python -m bench.in_process`: CPU milliseconds a request (the process's, worker threads
included), best of several interleaved rounds, for the same body sent two ways: as is, which
service/fast_path.py answers, and with `?model=text2text`, which it leaves to FastAPI's route
(same model, same answer); and for a bare ASGI app answering constant JSON (no model).
"""

import argparse
import asyncio
import json
import time

from service.main import create_app
from service.settings import Settings

BODY = b'{"query": "81+24"}'
WAYS = {"fast path": b"", "FastAPI route": b"model=text2text"}


def scope(query_string: bytes) -> dict:
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(BODY))]
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
            "scheme": "http", "path": "/solve/text", "raw_path": b"/solve/text",
            "query_string": query_string, "root_path": "", "headers": headers,
            "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}  # fmt: skip


async def request(app, query_string: bytes) -> None:
    """One request; fails unless it is answered 200."""
    messages = [{"type": "http.request", "body": BODY, "more_body": False}]
    sent = []

    async def receive() -> dict:
        return messages.pop() if messages else await asyncio.Event().wait()

    async def send(message: dict) -> None:
        sent.append(message)

    await app(scope(query_string), receive, send)
    if sent[0]["status"] != 200:
        raise RuntimeError(f"{sent[0]['status']}: {sent[1].get('body')!r}")


async def bare(scope: dict, receive, send) -> None:
    """The floor: read the body, parse it, answer constant JSON."""
    query = json.loads((await receive())["body"])["query"]
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})  # fmt: skip
    await send({"type": "http.response.body", "body": json.dumps({"query": query}).encode()})


async def cpu_ms(app, query_string: bytes, requests: int, in_flight: int = 8) -> float:
    async def client() -> None:
        for _ in range(requests // in_flight):
            await request(app, query_string)

    started = time.process_time()
    await asyncio.gather(*(client() for _ in range(in_flight)))
    return (time.process_time() - started) / requests * 1e3


async def main(requests: int, rounds: int) -> None:
    app = create_app(Settings(log_level="warning"))  # no access line: it is not the app's work
    async with app.router.lifespan_context(app):
        apps = {**{way: (app, qs) for way, qs in WAYS.items()}, "bare ASGI app": (bare, b"")}
        for target, qs in apps.values():
            await cpu_ms(target, qs, requests // 10)  # warm-up
        best = dict.fromkeys(apps, float("inf"))
        for _ in range(rounds):
            for name, (target, qs) in apps.items():
                best[name] = min(best[name], await cpu_ms(target, qs, requests))
    for name, ms in best.items():
        print(f"{name:14} {ms:.3f} CPU ms a request")
    print(f"fast path / route: {best['fast path'] / best['FastAPI route']:.2f}x the CPU")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=4000, help="per round and way")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.rounds))
