"""The flow fitted to a VAE's latents: it carries N(0, I) to where the latents lie, inverts
exactly, and the exported sampler and encoder chain it with the VAE."""

import json

import numpy as np
import pytest
import torch

from training.engine import Engine
from training.launch import Launch
from training.models.flow import LatentFlow, Sampler
from training.tasks.generative import fit
from training.tasks.generative_tasks import Config, encoder, sampler
from training.tasks.latent_prior import fit_latent_prior


def test_samples_of_n01_land_where_the_codes_lie():
    """Codes far from N(0, I) (shifted, scaled differently, correlated): the fitted prior's
    samples match their mean, spread and correlation, which raw N(0, I) does not."""
    torch.manual_seed(0)
    mix = torch.tensor([[1.0, 0.9, 0.0], [0.0, 0.4, 0.0], [0.0, 0.0, 1.0]])
    codes = torch.randn(4000, 3) @ mix * torch.tensor([0.2, 1.0, 3.0]) + torch.tensor([3, -2, 0])
    prior, losses = fit_latent_prior(codes, 30, Launch.local(progress=False), hidden=64)
    assert losses[-1] < losses[0]
    with torch.no_grad():
        samples = prior(torch.randn(4000, 3))
    spread = codes.std(0)
    assert torch.allclose(samples.mean(0), codes.mean(0), atol=0.1)
    assert torch.allclose(samples.std(0), spread, rtol=0.25), (samples.std(0), spread)
    correlation = np.corrcoef(samples[:, :2].T.numpy())[0, 1]
    assert correlation > 0.8, correlation  # as in the codes (0.91)


def test_fitted_to_posterior_draws_the_prior_spreads_as_the_draws_do():
    """Means spread 0.5, each posterior 0.75 in variance: the draws spread 1.0, and so do the
    samples of a prior fitted to them, not the means' 0.5."""
    # Not from the global generator: the engine seeds it with the task's seed (0) before it
    # draws, which would make those draws the very normals the means were made of.
    means = torch.randn(4000, 2, generator=torch.Generator().manual_seed(1)) * 0.5
    log_vars = torch.full_like(means, float(np.log(0.75)))
    launch = Launch.local(progress=False)
    prior, _ = fit_latent_prior(means, 20, launch, hidden=32, log_vars=log_vars)
    with torch.no_grad():
        spread = prior(torch.randn(4000, 2)).std(0)
    assert torch.allclose(spread, torch.ones(2), rtol=0.15), spread


def test_a_vae_run_with_a_latent_prior_samples_and_encodes_through_it(tmp_path):
    faces = tmp_path / "faces.npy"
    np.save(faces, np.random.default_rng(0).integers(0, 256, (64, 32, 32, 3), dtype=np.uint8))
    config = Config(model="vae", data=str(faces), size=32, channels=3, latent=8, filters=8,
                    epochs=1, batch_size=16, grid=9, prior_epochs=2, prior_hidden=24,
                    prior_codes="draws")  # fmt: skip
    models, history = fit(
        config, Launch.local(run_dir=tmp_path / "run", progress=False, max_batches=2)
    )
    assert isinstance(models["prior"], LatentFlow)
    assert models["prior"].layers[0].net[0].out_features == 24  # prior_hidden: the flow's width
    assert {"prior_loss", "prior_seconds"} <= history[-1].keys()
    assert (tmp_path / "run" / "samples" / "latent_prior.png").is_file()
    decode = sampler(models)
    assert isinstance(decode, Sampler)
    images = torch.rand(5, 3, 32, 32)
    with torch.no_grad():
        mean, log_var = encoder(models)(images)
        first_stage = models["vae"].encode(images)[0]
        assert torch.allclose(mean, models["prior"].inverse(first_stage)[0])
        assert torch.allclose(models["prior"](mean), first_stage, atol=1e-4)  # inverts exactly
        assert mean.shape == log_var.shape == (5, 8)
        assert decode.eval()(mean).shape == (5, 3, 32, 32)


def test_the_export_chains_both_stages_and_the_service_loads_it(tmp_path):
    from service.registry import load_model, session_options
    from training.tasks.generative_export import export_generator

    faces = tmp_path / "faces.npy"
    np.save(faces, np.random.default_rng(1).integers(0, 256, (32, 28, 28, 1), dtype=np.uint8))
    config = Config(model="vae", data=str(faces), latent=4, filters=4, epochs=1, batch_size=16,
                    prior_epochs=1)  # fmt: skip
    models, history = fit(
        config, Launch.local(run_dir=tmp_path / "run", progress=False, max_batches=1)
    )
    card = export_generator(
        models, config, history, 1.0, tmp_path / "tiny-vae", "test", Engine.local()
    )
    assert "flow fitted to its latents" in card["description"]
    assert card["training"]["config"]["prior_epochs"] == 1
    assert card["metrics"]["onnx_parity_max_abs_diff"] < 1e-4
    assert card["metrics"]["encoder_onnx_parity_max_abs_diff"] < 1e-4
    assert card["metrics"]["latent_spread_train"] > 0
    assert "latent_spread_held_out" not in card["metrics"]  # a user's images: none held out
    served = load_model(tmp_path / "tiny-vae", session_options(1))
    images = np.random.default_rng(2).random((3, 1, 28, 28), dtype=np.float32)
    mean = served.run_encoder(["mean"], {"images": images})[0]
    with torch.no_grad():
        expected = encoder(models)(torch.from_numpy(images))[0].numpy()
        drawn = sampler(models).eval()(torch.from_numpy(mean)).numpy()
    np.testing.assert_allclose(mean, expected, atol=1e-4)
    np.testing.assert_allclose(served.run({"z": mean})[0], drawn, atol=1e-4)


def test_the_exported_encoder_keeps_only_the_means_half_of_the_moments_layer(tmp_path):
    import onnx

    from service.registry import CardError, load_model, session_options
    from training.tasks.generative_export import export_generator

    pixels = tmp_path / "pixels.npy"
    np.save(pixels, np.random.default_rng(1).integers(0, 256, (32, 28, 28, 1), dtype=np.uint8))
    config = Config(model="vae", data=str(pixels), latent=4, filters=4, epochs=1, batch_size=16)
    models, history = fit(config, Launch.local(run_dir=tmp_path / "run", progress=False))
    folder = tmp_path / "vae"
    card = export_generator(models, config, history, 1.0, folder, "test", Engine.local())
    assert [output["name"] for output in card["encoder"]["outputs"]] == ["mean"]
    shapes = [list(t.dims) for t in onnx.load(folder / "encoder.onnx").graph.initializer]
    features = models["vae"].moments.in_features
    assert [4, features] in shapes and [8, features] not in shapes  # latent 4: mean rows only
    images = np.random.default_rng(3).random((3, 1, 28, 28), dtype=np.float32)
    served = load_model(folder, session_options(1)).run_encoder(["mean"], {"images": images})[0]
    with torch.no_grad():
        expected = models["vae"].encode(torch.from_numpy(images))[0].numpy()
    np.testing.assert_allclose(served, expected, atol=1e-5)
    wrong = {**card["encoder"]["outputs"][0], "name": "log_var"}
    (folder / "card.json").write_text(
        json.dumps({**card, "encoder": {**card["encoder"], "outputs": [wrong]}})
    )
    with pytest.raises(CardError, match="encoder outputs"):
        load_model(folder, session_options(1))
