"""A Python client generated from `/openapi.json` with openapi-python-client, as a user makes one:
its methods have the operations' short names, and it solves a query and reads a strip sent as a
raw image body against a real `python -m service`."""

import importlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from live_server import serving

from service.main import create_app
from training.data import strip_variants
from training.data.strips import draw

GENERATOR = Path(sys.executable).parent / "openapi-python-client"
MODULES = {  # module of each operation in the generated client, by tag
    "solve": {"solve_text", "solve_image"},
    "generate": {"sample", "interpolate", "interpolate_images"},
    "render": {"render"},
    "models": {"list_models"},
    "operations": {"health", "ready", "metrics"},
}


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    """The generated client package, importable as ``genseq_client``."""
    folder = tmp_path_factory.mktemp("client")
    spec = folder / "openapi.json"
    spec.write_text(json.dumps(create_app().openapi()))
    done = subprocess.run(
        [GENERATOR, "generate", "--path", spec, "--meta", "none",
         "--output-path", folder / "genseq_client"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    sys.path.insert(0, str(folder))
    yield folder / "genseq_client"
    sys.path.remove(str(folder))


def test_every_operation_is_a_method_of_its_short_name(generated):
    found = {
        tag.name: {module.stem for module in tag.glob("*.py") if module.stem != "__init__"}
        for tag in (generated / "api").iterdir()
        if tag.is_dir() and not tag.name.startswith("__")
    }
    assert found == MODULES


def test_the_client_solves_and_reads_a_raw_strip(generated, tmp_path):
    client_module = importlib.import_module("genseq_client")
    solve_text = importlib.import_module("genseq_client.api.solve.solve_text")
    solve_image = importlib.import_module("genseq_client.api.solve.solve_image")
    models = importlib.import_module("genseq_client.models")
    types = importlib.import_module("genseq_client.types")
    strip = draw(["81+24"], "test", np.random.default_rng(0), ("right",), "left").pixels[0]
    png = strip_variants.upload(strip.numpy(), "clean", np.random.default_rng(0))
    with serving(tmp_path / "server.log") as (base, _):
        client = client_module.Client(base_url=base)
        answer = solve_text.sync(client=client, body=models.SolveTextRequest(query="81+24"))
        assert answer.answer == "105"
        read = solve_image.sync(client=client, body=types.File(payload=png))
        assert read.answer == "105" and read.expression == "81+24"
