"""The registry refuses folders whose card disagrees with the ONNX file, naming folder and field."""

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.main import create_app
from service.registry import CardError, NotReadyError, Registry, UnknownModelError
from service.settings import Settings


def load(models_dir: Path) -> Registry:
    registry = Registry()
    registry.load(models_dir, intra_op_threads=1)
    return registry


def test_a_good_copy_loads_and_finds_models_by_name(models_copy: Path) -> None:
    registry = load(models_copy)
    assert registry.ready
    assert registry.get("text2text").name == "text2text"
    with pytest.raises(UnknownModelError, match="'gan'.*available text2text models: text2text"):
        registry.get("text2text", "gan")
    with pytest.raises(NotReadyError, match="no gan model"):
        registry.get("gan")


def test_bad_sha256_is_refused(models_copy: Path, edit_card: Callable[..., None]) -> None:
    edit_card(models_copy / "text2text", sha256="0" * 64)
    with pytest.raises(CardError, match=r"text2text.*sha256 of model\.onnx"):
        load(models_copy)


def test_modified_onnx_file_is_refused(models_copy: Path) -> None:
    with (models_copy / "text2text" / "model.onnx").open("ab") as onnx_file:
        onnx_file.write(b"\0")
    with pytest.raises(CardError, match="sha256"):
        load(models_copy)


def test_wrong_input_name_is_refused(models_copy: Path, edit_card: Callable[..., None]) -> None:
    folder = models_copy / "text2text"
    card = json.loads((folder / "card.json").read_text())
    edit_card(folder, inputs=[{**card["inputs"][0], "name": "question"}])
    with pytest.raises(CardError, match=r"text2text.*input.*names.*'query'.*'question'"):
        load(models_copy)


def test_wrong_fixed_dim_is_refused(models_copy: Path, edit_card: Callable[..., None]) -> None:
    folder = models_copy / "text2text"
    card = json.loads((folder / "card.json").read_text())
    edit_card(folder, outputs=[{**card["outputs"][0], "shape": ["batch", 4, 13]}])
    with pytest.raises(CardError, match="shape of outputs 'probs'"):
        load(models_copy)


def test_card_name_must_equal_folder(models_copy: Path, edit_card: Callable[..., None]) -> None:
    edit_card(models_copy / "text2text", name="other")
    with pytest.raises(CardError, match="card name is 'other'"):
        load(models_copy)


def test_empty_models_dir_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CardError, match="no model folders"):
        load(tmp_path)


def test_the_app_refuses_to_start_on_a_bad_card(
    models_copy: Path, edit_card: Callable[..., None]
) -> None:
    edit_card(models_copy / "text2text", sha256="0" * 64)
    app = create_app(Settings(models_dir=models_copy))
    with pytest.raises(CardError, match="sha256"), TestClient(app):
        pass
