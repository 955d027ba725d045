"""LitServe serving the benchmark's text and sample endpoints with the service's models and work
(bench/peers/work.py). Runs in its venv: `python -m bench.peers.litserve_app`, on
GENSEQ_HOST:GENSEQ_PORT like the service.

LitServe 0.2.19 routes a LitAPI as POST only, so `/sample` takes `{"n": 16, "seed": 0}` as a JSON
body instead of a query string. One HTTP server process (the service runs one); each API gets
as many inference worker processes as the service has inference slots, so as many model runs go
at once as in the service, each session on the service's intra-op threads. Text queries are
batched by LitServe (the service batches them too); `/sample` is not, as in the service (each
request is already a batch of 16, and the generator costs no less an image in bigger batches).
Requests reach the workers through multiprocessing Manager queues, LitServe's default;
`fast_queue=True` (ZeroMQ) would change nothing in 0.2.19: LitServer passes it on as
`TransportConfig(transport_config=...)`, a field pydantic ignores, so the transport stays "mp".
"""

from typing import Any

import litserve as ls
from fastapi import Response

from bench.peers.work import Sample, Text
from service.settings import Settings

# A batch can hold every request the benchmark has in flight (c=64 at most).
MAX_BATCH = 64
# How long a worker waits for its batch to fill: about what one request costs here. LitServe
# needs more than 0: with 0 an idle worker polls its queue without pause and keeps a core busy.
BATCH_TIMEOUT_SECONDS = 0.001


class SolveText(ls.LitAPI):
    """`POST /solve/text {"query": "81+24"}`: one query a request, answered in batches."""

    def setup(self, device: str) -> None:
        self.text = Text(Settings())

    def decode_request(self, request: dict[str, Any]) -> str:
        return self.text.parse(request["query"])

    def predict(self, queries: list[str]) -> list[dict[str, str]]:
        return self.text.solve(queries)


class SampleGrid(ls.LitAPI):
    """`POST /sample {"n": 16, "seed": 0}`: the PNG grid of `GET /sample?n=16&seed=0`."""

    def setup(self, device: str) -> None:
        self.sample = Sample(Settings())

    def decode_request(self, request: dict[str, Any]) -> tuple[int, int]:
        return int(request.get("n", 16)), int(request.get("seed", 0))

    def predict(self, n_seed: tuple[int, int]) -> bytes:
        return self.sample.png(*n_seed)

    def encode_response(self, png: bytes) -> Response:
        return Response(png, media_type="image/png")


def main() -> None:
    settings = Settings()
    apis = [
        SolveText(api_path="/solve/text", max_batch_size=MAX_BATCH,
                  batch_timeout=BATCH_TIMEOUT_SECONDS),
        SampleGrid(api_path="/sample"),
    ]  # fmt: skip
    server = ls.LitServer(
        apis,
        accelerator="cpu",
        workers_per_device=settings.max_concurrent_inference,
        timeout=settings.request_timeout_seconds,
    )
    server.run(
        host=settings.host,
        port=settings.port,
        num_api_servers=1,
        generate_client_file=False,  # it would write client.py into the working directory
        access_log=False,  # as the other servers: no uvicorn access log
    )


if __name__ == "__main__":
    main()
