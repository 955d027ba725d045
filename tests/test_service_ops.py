"""Operational endpoints: health, readiness, the model list, OpenAPI and Prometheus metrics."""

import hashlib

from fastapi.testclient import TestClient

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
