"""The shipped Fashion-MNIST VAE and GAN: cards that match their files and record both FIDs with
their commands, the domain FID re-measured, sane samples over HTTP, and the VAE reconstructing
held-out test images through `POST /interpolate`."""

import io
import json
import re

import numpy as np
import pytest
from PIL import Image

from training.data.fashion import load_fashion
from training.evaluation.domain_fid import measure
from training.export import sha256

# Checked on the cards (Inception FID takes minutes a model: not re-measured): issue 15's 15 for the
# GAN and 29 for the VAE, below the best published Fashion-MNIST FIDs we know (PA-GAN's 15.8, the
# two-stage VAE's 29.3).
INCEPTION_FID_TARGET = {"gan": 15.0, "vae": 29.0}


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
    assert metrics["inception_fid_samples"] == 10_000  # issue 15's protocol (Lucic et al. 2018)
    assert 0 < metrics["inception_fid"] <= INCEPTION_FID_TARGET[name]
    for kind in ("domain", "inception"):
        assert metrics[f"{kind}_fid_command"] == f"python -m training {kind}-fid exported/{name}"
    if name == "vae":
        assert card["encoder"]["sha256"] == sha256(folder / "encoder.onnx")
        assert metrics["encoder_onnx_parity_max_abs_diff"] < 1e-4


def test_every_shipped_model_together_stays_under_60_mb(settings):
    files = [path for path in settings.models_dir.rglob("*") if path.is_file()]
    assert sum(path.stat().st_size for path in files) < 60_000_000  # issue 15: committed in git


@pytest.mark.long  # the feature classifier trains first on a fresh clone: 3+ minutes here
def test_domain_fid_remeasured_matches_the_card(shipped):
    name, card, folder = shipped
    # The feature classifier is retrained where it is not cached, and its features set the scale:
    # on fresh clones the VAE measured 224.6 against a card's 239.2 (6 %), and 81.4 against
    # 67.8 (20 %, 2026-12-03). A wrong model or wrong preprocessing moves it far more (models
    # trained 2-4 epochs scored 324-530, the GAN scores 46).
    assert measure(folder)["domain_fid"] == pytest.approx(card["metrics"]["domain_fid"], rel=0.3)


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


def png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def test_vae_reconstructs_held_out_images_at_the_ends_of_its_strip(client):
    test_images = load_fashion("test")[0]  # the VAE trained on the train split only
    errors, gaps = [], []
    for i in range(0, 40, 2):
        a, b = test_images[i], test_images[i + 1]
        files = {"a": ("a.png", png(a), "image/png"), "b": ("b.png", png(b), "image/png")}
        response = client.post("/interpolate", params={"steps": 3}, files=files)
        assert response.status_code == 200, response.text
        strip = np.asarray(Image.open(io.BytesIO(response.content)), np.float32) / 255
        first, last = strip[:, :28], strip[:, -28:]
        errors += [np.abs(first - a / 255).mean(), np.abs(last - b / 255).mean()]
        gaps += [np.abs(first - b / 255).mean(), np.abs(last - a / 255).mean()]
    # Each end is far closer to its own image than to the other one.
    assert np.mean(errors) < 0.5 * np.mean(gaps) and np.mean(errors) < 0.1
