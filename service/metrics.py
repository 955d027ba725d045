"""Prometheus metrics: requests and latency per route template and status, inference per model.

Each app gets its own CollectorRegistry, so several apps in one process (tests) do not clash.
Routes are labelled by template ("/solve/text", later "/models/{name}"), never by raw path, and
unmatched paths share one label, so a scan of random URLs cannot blow up the series count.
"""

import time
from contextlib import AbstractContextManager
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UNMATCHED = "<unmatched>"
# Small JSON requests take about a millisecond here; default buckets start at 5 ms.
REQUEST_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
INFERENCE_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
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
        self.inference = Histogram(
            "genseq_inference_seconds",
            "onnxruntime session.run time, per model.",
            ["model"],
            buckets=INFERENCE_BUCKETS,
            registry=self.registry,
        )

    def time_inference(self, model: str) -> AbstractContextManager[Any]:
        return self.inference.labels(model=model).time()

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Pure ASGI: times each HTTP request and records it under the route the router matched."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status_code = 500  # if the app raises, the server error middleware answers 500

        async def send_with_status(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
            await send(message)

        start = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_status)
        finally:
            # Starlette's router stores the matched route in the (shared) scope.
            route = getattr(scope.get("route"), "path", UNMATCHED)
            labels = (scope["method"], route, str(status_code))
            self.metrics.requests.labels(*labels).inc()
            self.metrics.latency.labels(*labels).observe(time.perf_counter() - start)
