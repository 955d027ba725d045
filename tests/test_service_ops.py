"""Operational endpoints: health, readiness, the model list, OpenAPI and Prometheus metrics;
and `python -m service` with several workers."""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from live_server import fetch, serving
from prometheus_client.parser import text_string_to_metric_families

from service import registry as registry_module
from service.main import create_app
from service.settings import Settings


def test_health(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_ready_once_models_are_loaded(client: TestClient) -> None:
    response = client.get("/ready")
    assert response.status_code == 200 and response.json() == {"status": "ready"}


def test_not_ready_before_the_lifespan_has_loaded_models(settings: Settings) -> None:
    unstarted = TestClient(create_app(settings))  # no `with`: the lifespan does not run
    assert unstarted.get("/health").status_code == 200
    response = unstarted.get("/ready")
    assert response.status_code == 503 and "not loaded" in response.json()["detail"]
    assert unstarted.post("/solve/text", json={"query": "1+1"}).status_code == 503


def test_ready_only_once_every_session_is_warmed_up(
    models_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = create_app(Settings(models_dir=models_copy))
    ready_at_warm_up = []
    warm_up = registry_module._warm_up

    def recording_warm_up(*args: Any) -> None:
        ready_at_warm_up.append(app.state.context.registry.ready)
        warm_up(*args)

    monkeypatch.setattr(registry_module, "_warm_up", recording_warm_up)
    with TestClient(app) as started:
        assert ready_at_warm_up == [False]  # the one model of the copy, before ready
        assert started.get("/ready").status_code == 200


def test_not_ready_once_shutting_down(models_copy: Path) -> None:
    app = create_app(Settings(models_dir=models_copy))
    with TestClient(app) as started:
        assert started.get("/ready").status_code == 200
    assert TestClient(app).get("/ready").status_code == 503  # after the lifespan's shutdown


def test_models_lists_each_model_with_its_whole_card(
    client: TestClient, settings: Settings
) -> None:
    models = {m["name"]: m for m in client.get("/models").json()["models"]}
    card = models["text2text"]
    assert card["task"] == "text2text"
    onnx_file = settings.models_dir / "text2text" / card["onnx"]
    assert card["sha256"] == hashlib.sha256(onnx_file.read_bytes()).hexdigest()
    assert card["inputs"][0]["shape"] == ["batch", card["query_length"], len(card["symbols"])]
    for field in ("symbols", "padding", "dataset", "training", "metrics", "code_version"):
        assert field in card, field


def test_openapi_documents_every_path_and_string_errors(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert {"/health", "/ready", "/models", "/metrics", "/solve/text"} <= set(spec["paths"])
    solve = spec["paths"]["/solve/text"]["post"]
    assert {"200", "404", "413", "415", "422"} <= set(solve["responses"])
    error = solve["responses"]["422"]["content"]["application/json"]["schema"]["$ref"]
    assert error.endswith("/ErrorResponse")
    assert (
        spec["components"]["schemas"]["ErrorResponse"]["properties"]["detail"]["type"] == "string"
    )


OPERATIONS = {  # what generated clients name their methods
    ("get", "/health"): "health",
    ("get", "/ready"): "ready",
    ("get", "/models"): "list_models",
    ("get", "/metrics"): "metrics",
    ("post", "/solve/text"): "solve_text",
    ("post", "/solve/image"): "solve_image",
    ("get", "/render"): "render",
    ("get", "/sample"): "sample",
    ("get", "/interpolate"): "interpolate",
    ("post", "/interpolate"): "interpolate_images",
}


def test_every_operation_has_a_short_id(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    found = {(method, path): op["operationId"]
             for path, ops in spec["paths"].items() for method, op in ops.items()}  # fmt: skip
    assert found == OPERATIONS


def test_metrics_label_requests_by_route_template(client: TestClient) -> None:
    client.post("/solve/text", json={"query": "1+1"})
    client.post("/solve/text", json={"query": "x"})
    client.get("/no/such/path/123")
    text = client.get("/metrics").text
    assert 'genseq_http_requests_total{method="POST",route="/solve/text",status="200"}' in text
    assert 'genseq_http_requests_total{method="POST",route="/solve/text",status="422"}' in text
    assert 'route="<unmatched>",status="404"' in text and "/no/such/path" not in text
    assert 'genseq_http_request_duration_seconds_bucket{le="0.001",method="POST"' in text
    assert 'genseq_inference_seconds_count{model="text2text"}' in text


def scrape(base: str) -> dict[tuple, float]:
    """The served /metrics of requests answered 200, by (name, route, model)."""
    _, text = fetch(f"{base}/metrics")
    return {
        (s.name, s.labels.get("route"), s.labels.get("model")): s.value
        for family in text_string_to_metric_families(text.decode())
        for s in family.samples
        if s.labels.get("status", "200") == "200"
    }


def json_lines(log: Path) -> list[dict]:
    """Every line the server logged, each of which must be a JSON object."""
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def test_two_workers_count_every_request_in_metrics_and_log_json(
    models_copy: Path, tmp_path: Path
) -> None:
    """A real `python -m service` with GENSEQ_WORKERS=2: whichever worker answered, /metrics
    counts every request, and every line on stderr is JSON."""
    log = tmp_path / "server.log"
    with serving(log, workers="2", models_dir=str(models_copy)) as (base, _):
        deadline = time.monotonic() + 60
        sent, pids = 0, set()
        urls, bodies = [f"{base}/solve/text"] * 20, [{"query": "81+24"}] * 20
        with ThreadPoolExecutor(4) as pool:  # concurrent connections reach both workers
            while len(pids) < 2:
                assert time.monotonic() < deadline, "one worker answered every request"
                assert {status for status, _ in pool.map(fetch, urls, bodies)} == {200}
                sent += len(urls)
                pids = {
                    line["pid"]
                    for line in json_lines(log)
                    if line.get("path") == "/solve/text" and line.get("status") == 200
                }
        # A worker counts a request out of flight just after its answer has gone, and accounts
        # it in a batch up to 50 ms later (service/accounting.py), so the other one may not have
        # when this scrape arrives: scrape until it has.
        in_flight, total = ("genseq_http_requests_in_flight", None, None), (
            "genseq_http_requests_total", "/solve/text", None)  # fmt: skip
        deadline = time.monotonic() + 5
        while ((samples := scrape(base))[in_flight] != 1 or samples[total] != sent) and (
            time.monotonic() < deadline
        ):
            time.sleep(0.05)
        assert samples[("genseq_http_requests_total", "/solve/text", None)] == sent
        # Single queries share model runs (service/batching.py): fewer runs, every query counted.
        assert 1 <= samples[("genseq_inference_seconds_count", None, "text2text")] <= sent
        assert samples[("genseq_batched_queries_sum", None, "text2text")] == sent
        assert samples[("genseq_http_requests_in_flight", None, None)] == 1  # this scrape
    lines = json_lines(log)
    assert sum(line.get("path") == "/solve/text" for line in lines) == sent
    assert any(line["message"].startswith("Started server process") for line in lines)


def test_providers_are_full_names_in_order(models_copy: Path) -> None:
    settings = Settings(models_dir=models_copy, ort_providers="CPU")
    assert settings.ort_providers == ("CPUExecutionProvider",)
    with TestClient(create_app(settings)) as client:
        assert client.get("/ready").status_code == 200


def test_a_provider_this_onnxruntime_lacks_stops_the_start_in_one_line() -> None:
    env = {**os.environ, "GENSEQ_ORT_PROVIDERS": "CUDA,CPU"}
    done = subprocess.run([sys.executable, "-m", "service"], env=env, capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert done.returncode != 0 and "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("genseq: GENSEQ_ORT_PROVIDERS:"), done.stderr
    assert "CUDAExecutionProvider not available" in lines[0] and "CPUExecutionProvider" in lines[0]


@pytest.mark.parametrize("on", [False, True])
def test_fastapis_opentelemetry_asks_for_providers_only_when_turned_on(
    models_copy: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch, on: bool
) -> None:
    """Off by default: requests do not ask the OpenTelemetry API for a provider each time. On,
    a revalidation goes through FastAPI too (not ahead of it), to get its span."""
    from opentelemetry import trace

    asked = []
    real = trace.get_tracer_provider
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: asked.append(1) or real())
    shutil.copytree(settings.models_dir / "gan", models_copy / "gan")
    with TestClient(create_app(Settings(models_dir=models_copy, opentelemetry=on))) as client:
        tag = client.get("/sample?n=1&seed=3").headers["etag"]
        asked.clear()
        assert client.get("/health").status_code == 200
        health, asked[:] = bool(asked), []
        again = client.get("/sample?n=1&seed=3", headers={"If-None-Match": tag})
        assert again.status_code == 304
    assert health == bool(asked) == on
