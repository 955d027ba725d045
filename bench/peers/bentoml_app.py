"""BentoML serving the benchmark's text and sample endpoints with the service's models and work
(bench/peers/work.py). Runs in its venv: `python -m bench.peers.bentoml_app` starts
`bentoml serve` of :class:`Peer` on GENSEQ_HOST:GENSEQ_PORT like the service.

BentoML 1.4.40 routes every API as POST with a JSON body of its arguments, and a batchable API
takes a batch: `/solve/text` takes `{"queries": ["81+24"]}` (the service's own batch form, one
query) and answers a list of one answer; `/sample` takes `{"n": 16, "seed": 0}`.

One worker process beside the arbiter (the service runs one process), with as many threads as
the service has inference slots, so as many `/sample` runs go at once, each session on the
service's intra-op threads. Text queries are batched by BentoML's adaptive batching (the service
batches them too), which runs one batch at a time a worker; `/sample` is not batched, as in the
service. No access log, as the other servers' uvicorn.
"""

from pathlib import Path
from typing import Annotated

import bentoml
from bentoml.validators import ContentType

from bench.peers.work import Sample, Text
from service.settings import Settings

SETTINGS = Settings()
REPO = Path(__file__).resolve().parents[2]  # where the worker imports this module and `service`
# A batch can hold every request the benchmark has in flight (c=64 at most).
MAX_BATCH = 64


@bentoml.service(
    workers=1,
    threads=SETTINGS.max_concurrent_inference,
    traffic={"timeout": SETTINGS.request_timeout_seconds},
    logging={"access": {"enabled": False}},
)
class Peer:
    def __init__(self) -> None:
        self.text, self.sample_grid = Text(SETTINGS), Sample(SETTINGS)

    # BentoML answers 503 for a request it expects to wait longer than max_latency_ms: set to
    # the service's request timeout, after which the service answers 504.
    @bentoml.api(
        route="/solve/text",
        batchable=True,
        max_batch_size=MAX_BATCH,
        max_latency_ms=int(SETTINGS.request_timeout_seconds * 1000),
    )
    def solve_text(self, queries: list[str]) -> list[dict[str, str]]:
        return self.text.solve([self.text.parse(query) for query in queries])

    @bentoml.api(route="/sample")
    def sample(self, n: int = 16, seed: int = 0) -> Annotated[bytes, ContentType("image/png")]:
        """The PNG of `GET /sample?n=&seed=`; the annotation makes it go out as image/png."""
        return self.sample_grid.png(n, seed)


if __name__ == "__main__":
    bentoml.serve(
        f"{__spec__.name}:Peer",
        host=SETTINGS.host,
        port=SETTINGS.port,
        working_dir=str(REPO),
        blocking=True,
    )
