"""The shipped 64x64 colour models trained on the emoji faces (`gan-faces`, `vae-faces`): cards
that match their files and carry both Inception FIDs (whole set, held-out split) with licences,
the GAN's below the VAE's, colour faces over HTTP, and the VAE reconstructing held-out faces
through `POST /interpolate`."""

import io
import json
import re

import numpy as np
import pytest
from PIL import Image
from test_shipped_generative import png

from training.data import image_sets
from training.export import sha256

FACES = ("gan-faces", "vae-faces")


def card_of(settings, name: str) -> dict:
    return json.loads((settings.models_dir / name / "card.json").read_text())


@pytest.mark.parametrize("name", FACES)
def test_card_matches_its_files_and_records_fid_and_licences(settings, name):
    card, folder = card_of(settings, name), settings.models_dir / name
    assert card["task"] == name.split("-")[0] and card["sha256"] == sha256(folder / "model.onnx")
    assert card["image"] == {"size": 64, "channels": 3, "range": "0..1"}
    assert re.fullmatch("[0-9a-f]{40}", card["code_version"]["commit"] or "")
    assert not card["code_version"]["dirty"]
    assert card["training"]["config"]["data"] == "emoji-faces"
    licences = {p["licence"] for p in card["dataset"]["packages"].values()}
    assert licences == {"Apache-2.0", "CC-BY-4.0"}
    metrics = card["metrics"]
    assert metrics["inception_fid_samples"] == 10_000 and metrics["onnx_parity_max_abs_diff"] < 1e-4
    assert metrics["inception_fid_real"] == "emoji-faces, all 4860 images"
    assert metrics["inception_fid_held_out_real"] == "emoji-faces, the 486 held out"
    # Against a few hundred images FID reads higher (its bias grows as the set shrinks).
    assert 0 < metrics["inception_fid"] < metrics["inception_fid_held_out"]
    assert metrics["inception_fid_command"] == f"python -m training inception-fid exported/{name}"


def test_the_gan_draws_closer_to_the_faces_than_the_vae(settings):
    gan, vae = (card_of(settings, name)["metrics"] for name in FACES)
    assert gan["inception_fid"] < vae["inception_fid"]
    assert gan["inception_fid_held_out"] < vae["inception_fid_held_out"]


def sample_grid(client, **params) -> np.ndarray:
    response = client.get("/sample", params=params)
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    return np.asarray(Image.open(io.BytesIO(response.content)), np.float32) / 255


@pytest.mark.parametrize("name", FACES)
def test_samples_are_colour_images_like_the_faces(client, name):
    first = sample_grid(client, model=name, n=16, seed=1)
    assert first.shape == (256, 256, 3)  # 4 x 4 faces of 64 x 64
    second = sample_grid(client, model=name, n=16, seed=2)
    assert np.abs(first - second).mean() > 0.02
    assert np.abs(first - first.mean(axis=2, keepdims=True)).mean() > 0.03  # colour, not grey
    real = image_sets.every_image("emoji-faces").astype(np.float32) / 255
    # Faces on the white ground, neither blank nor washed out: as bright as the real ones, and
    # with at least half their contrast (a VAE's samples are blurred, so lower).
    assert abs(first.mean() - real.mean()) < 0.1 and first.std() > 0.5 * real.std()


def test_vae_reconstructs_held_out_faces_at_the_ends_of_its_strip(client):
    held_out = image_sets.held_out_pixels("emoji-faces")  # the VAE trained on the rest
    errors, gaps = [], []
    for i in range(0, 40, 2):
        a, b = held_out[i], held_out[i + 1]
        files = {"a": ("a.png", png(a), "image/png"), "b": ("b.png", png(b), "image/png")}
        response = client.post("/interpolate", params={"model": "vae-faces", "steps": 3},
                               files=files)  # fmt: skip
        assert response.status_code == 200, response.text
        strip = np.asarray(Image.open(io.BytesIO(response.content)), np.float32) / 255
        first, last = strip[:, :64], strip[:, -64:]
        errors += [np.abs(first - a / 255).mean(), np.abs(last - b / 255).mean()]
        gaps += [np.abs(first - b / 255).mean(), np.abs(last - a / 255).mean()]
    assert np.mean(errors) < 0.6 * np.mean(gaps) and np.mean(errors) < 0.12
