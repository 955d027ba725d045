"""The shipped Fashion-MNIST VAE and GAN: cards that match their files, sane samples over HTTP."""

import io
import json
import re

import numpy as np
import pytest
from PIL import Image

from training.export import sha256


@pytest.fixture(scope="module", params=["gan", "vae"])
def shipped(request, settings):
    folder = settings.models_dir / request.param
    return request.param, json.loads((folder / "card.json").read_text()), folder


def test_card_matches_its_onnx_file_and_records_its_quality(shipped):
    name, card, folder = shipped
    assert card["task"] == name and card["sha256"] == sha256(folder / "model.onnx")
    assert re.fullmatch("[0-9a-f]{40}", card["code_version"]["commit"] or "")
    assert not card["code_version"]["dirty"]
    metrics = card["metrics"]
    assert metrics["domain_fid_samples"] >= 5000 and metrics["onnx_parity_max_abs_diff"] < 1e-4
    assert metrics["domain_fid"] > metrics["domain_fid_real_floor"] > 0


def grid(client, **params) -> np.ndarray:
    response = client.get("/sample", params=params)
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    return np.asarray(Image.open(io.BytesIO(response.content)), np.float32) / 255


def test_samples_look_like_images_and_differ_by_seed(client, shipped):
    name, _, _ = shipped
    first, second = grid(client, model=name, n=16, seed=1), grid(client, model=name, n=16, seed=2)
    assert first.shape == (112, 112)  # 4 x 4 Fashion-MNIST images
    assert 0.05 < first.mean() < 0.8 and first.std() > 0.1  # neither blank nor saturated
    assert np.abs(first - second).mean() > 0.02


def test_default_model_is_the_gan(client):
    assert np.array_equal(grid(client, n=4, seed=5), grid(client, model="gan", n=4, seed=5))
