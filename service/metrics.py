"""Prometheus metrics: requests and latency per route template and status, requests in flight,
inference per model, and how many requests each batched run answered.

Routes are labelled by template ("/solve/text", later "/models/{name}"), never by raw path, and
unmatched paths share one label, so a scan of random URLs cannot blow up the series count.

One process (tests, one worker): each app gets its own CollectorRegistry, so several apps in one
process do not clash. Several workers (`python -m service` with GENSEQ_WORKERS > 1): a scrape
reaches one worker, so each process writes its samples to files in PROMETHEUS_MULTIPROC_DIR and
`/metrics` sums them all. prometheus_client picks the mode when it is imported, from that
variable, so `service.__main__` sets it before the workers start.
"""

import os
from contextlib import AbstractContextManager
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

MULTIPROCESS_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR")  # read at import, as the client does
UNMATCHED = "<unmatched>"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})  # others: OTHER
# Small JSON requests take about a millisecond here; default buckets start at 5 ms.
REQUEST_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
INFERENCE_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        labels = ["method", "route", "status"]
        self.requests = Counter(
            "genseq_http_requests", "HTTP requests served.", labels, registry=self.registry
        )
        self.latency = Histogram(
            "genseq_http_request_duration_seconds",
            "Time from receiving a request to sending the last byte of its response.",
            labels,
            buckets=REQUEST_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "genseq_http_requests_in_flight",
            "HTTP requests whose handler is running (one a timeout answered counts until it ends).",
            registry=self.registry,
            multiprocess_mode="livesum",  # the sum over the workers alive
        )
        self.inference = Histogram(
            "genseq_inference_seconds",
            "onnxruntime session.run time, per model.",
            ["model"],
            buckets=INFERENCE_BUCKETS,
            registry=self.registry,
        )
        self.batched = Histogram(
            "genseq_batched_queries",
            "Requests (single text queries, renders) answered by one run of a model "
            "(service/batching.py), per model.",
            ["model"],
            buckets=BATCH_BUCKETS,
            registry=self.registry,
        )

    def observe(self, method: str, route: str, code: int, seconds: float) -> None:
        """Count and time one request. Label children are made once per (method, route, status)
        and kept: looking them up by label values costs more than the update itself."""
        key = (method if method in METHODS else "OTHER", route, code)
        children = self._children.get(key)
        if children is None:
            labels = (key[0], route, str(code))
            children = self.requests.labels(*labels), self.latency.labels(*labels)
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def time_inference(self, model: str) -> AbstractContextManager[Any]:
        return self.inference.labels(model=model).time()

    def count_batch(self, model: str, requests: int) -> None:
        self.batched.labels(model=model).observe(requests)

    def render(self) -> bytes:
        if MULTIPROCESS_DIR is None:
            return generate_latest(self.registry)
        registry = CollectorRegistry()  # a fresh one per scrape, as prometheus_client advises
        multiprocess.MultiProcessCollector(registry, MULTIPROCESS_DIR)
        return generate_latest(registry)

    def close(self) -> None:
        """At shutdown: drop this process's in-flight gauge from the sum over the workers."""
        if MULTIPROCESS_DIR is not None:
            multiprocess.mark_process_dead(os.getpid(), MULTIPROCESS_DIR)
