"""docs/api.md, the contract users read, against the code: every setting and operation in it."""

from pathlib import Path

from fastapi.testclient import TestClient

from service.settings import Settings

API = (Path(__file__).resolve().parent.parent / "docs" / "api.md").read_text()


def test_every_setting_is_documented_with_its_variable():
    missing = [f"GENSEQ_{name.upper()}" for name in Settings.model_fields
               if f"`GENSEQ_{name.upper()}`" not in API]  # fmt: skip
    assert not missing, f"not in docs/api.md: {missing}"


def test_every_operation_is_documented_with_its_id(client: TestClient):
    spec = client.get("/openapi.json").json()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            row = f"`{method.upper()} {path}"
            assert row in API, f"{row}` not in docs/api.md"
            assert f"`{operation['operationId']}`" in API, operation["operationId"]
