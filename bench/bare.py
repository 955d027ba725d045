"""The HTTP floor: FastAPI under uvicorn, started as the service is, answering constant JSON.

`POST /solve/text` takes the benchmark's request and answers without reading it: no middleware,
no validation, no model, no thread pool. What the service adds on top of this is its own cost.
"""

from fastapi import FastAPI

from bench.servers import serve

ANSWER = {"query": "81+24", "answer": "105", "model": "bare"}


def create_app() -> FastAPI:
    app = FastAPI()

    @app.get("/ready")
    async def ready() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/solve/text")
    async def solve_text() -> dict[str, str]:
        return ANSWER

    return app


if __name__ == "__main__":
    serve("bench.bare:create_app")
