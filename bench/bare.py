"""The HTTP floor: FastAPI under uvicorn, started as the service is, answering constant JSON.

`POST /solve/text` takes the benchmark's request and answers without reading it: no middleware,
no validation, no model, no thread pool. What the service adds on top of this is its own cost.

`GET /sample` answers an empty 200 with a constant tag, and a revalidation naming that tag gets
its 304 from a bare ASGI layer in front of FastAPI (as service/revalidation.py sits in front of
the service): the floor of the service's 304s, uvicorn's own cost of one.
"""

from fastapi import FastAPI, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from bench.servers import serve

ANSWER = {"query": "81+24", "answer": "105", "model": "bare"}
TAG = b'"bare"'
NOT_MODIFIED = {"type": "http.response.start", "status": 304, "headers": [(b"etag", TAG)]}
NO_BODY = {"type": "http.response.body", "body": b""}


def create_app() -> ASGIApp:
    app = FastAPI()

    @app.get("/ready")
    async def ready() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/solve/text")
    async def solve_text() -> dict[str, str]:
        return ANSWER

    @app.get("/sample")
    async def sample() -> Response:
        return Response(headers={"etag": TAG.decode()})

    async def revalidated(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (b"if-none-match", TAG) in scope["headers"]:
            await send(NOT_MODIFIED)
            await send(NO_BODY)
            return
        await app(scope, receive, send)

    return revalidated


if __name__ == "__main__":
    serve("bench.bare:create_app")
