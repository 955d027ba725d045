"""Fixtures for the service tests: settings, a started app, and scratch copies of model folders."""

import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.main import create_app
from service.settings import Settings


@pytest.fixture(scope="session")
def settings() -> Settings:
    """Default settings: the repository's `exported/` unless GENSEQ_MODELS_DIR says otherwise."""
    return Settings()


@pytest.fixture(scope="session")
def client(settings: Settings) -> Iterator[TestClient]:
    """A client of a started app; the `with` runs the lifespan, so models are loaded. Its access
    lines are dropped (a batch flushed between tests would escape pytest's capture);
    tests/test_service_logs.py catches and checks them."""
    app = create_app(settings)
    if app.state.context.accounting.access is not None:
        app.state.context.accounting.access.write = lambda text: None
    with TestClient(app) as started:
        yield started


@pytest.fixture
def text_model_dir(settings: Settings) -> Path:
    folder = settings.models_dir / "text2text"
    assert (folder / "card.json").is_file(), f"no text2text model under {settings.models_dir}"
    return folder


@pytest.fixture
def models_copy(tmp_path: Path, text_model_dir: Path) -> Path:
    """A models dir holding a scratch copy of the text2text folder, free to corrupt."""
    shutil.copytree(text_model_dir, tmp_path / "models" / "text2text")
    return tmp_path / "models"


CardEditor = Callable[..., None]


@pytest.fixture
def edit_card() -> CardEditor:
    """`edit_card(folder, sha256=...)` overwrites top-level fields of the card in `folder`."""

    def edit(folder: Path, **changes: Any) -> None:
        card = json.loads((folder / "card.json").read_text())
        card.update(changes)
        (folder / "card.json").write_text(json.dumps(card))

    return edit


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--containers",
        action="store_true",
        help="also run tests/containers: build and run the images (make test-containers)",
    )
    parser.addoption(
        "--long",
        action="store_true",
        help="also run the tests marked long: minutes each, such as re-measuring a shipped FID",
    )


def pytest_configure(config: pytest.Config) -> None:
    """The ``long`` marker; and under pytest-xdist (`make test`), each process's share of the
    cores for torch and BLAS, as torchrun gives its ranks: with every core each, two processes
    slowed some tests tenfold. Set before a test module imports torch; the caller's own
    OMP_NUM_THREADS wins."""
    config.addinivalue_line("markers", "long: minutes of CPU; run only with --long")
    processes = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", 1))
    if processes > 1:
        os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // processes)))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The default suite stays within its time budget: long tests need --long."""
    if config.getoption("--long"):
        return
    skip = pytest.mark.skip(reason="long: run with --long (minutes of CPU)")
    for item in items:
        if item.get_closest_marker("long"):
            item.add_marker(skip)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """tests/containers takes minutes and a container engine: only with --containers."""
    if collection_path.name == "containers" and not config.getoption("--containers"):
        return True
    return None
