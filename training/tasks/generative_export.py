"""Exporting a trained VAE or DCGAN: the network that turns latents into images as ONNX, and (a
VAE's) the encoder beside it, with the model card the service reads."""

from pathlib import Path

import numpy as np
import torch

from training.data import image_sets
from training.engine import Engine
from training.export import export_onnx, onnx_record, parity, training_record, write_card
from training.models.flow import MeanEncoder
from training.tasks.generative_tasks import Config, as_float, encoder, sampler, training_pixels

LATENT_FROM_SEED = "numpy.random.default_rng(seed).standard_normal((n, latent), dtype=float32)"
SPREAD_IMAGES = 5000  # per set, for latent_spread


def export_generator(
    models: dict[str, torch.nn.Module],
    config: Config,
    history: list[dict],
    seconds: float,
    out: Path,
    command: str,
    engine: Engine,
) -> dict:
    """Write ``out/model.onnx`` (latents to images) and its card."""
    decoder = sampler(models).eval()
    kind = "Decoder of a convolutional VAE" if config.model == "vae" else "DCGAN generator"
    if config.conditional:
        kind = "Class-conditional DCGAN generator (the class: the largest of z's first values)"
    if "prior" in models:
        kind += ", after a flow fitted to its latents"
    z = np.random.default_rng(0).standard_normal((4, config.latent), dtype=np.float32)
    export_onnx(decoder, {"z": torch.from_numpy(z)}, out / "model.onnx", ["images"])
    card = {
        "task": config.model,
        "description": (
            f"{kind}: latent vectors to {config.size}x{config.size} images, "
            f"{config.channels} channel(s)."
        ),
        "latent": config.latent,
        "latent_from_seed": LATENT_FROM_SEED,
        "image": {"size": config.size, "channels": config.channels, "range": "0..1"},
        "dataset": image_sets.card(config.data, config.limit),
        "training": training_record(command, config.to_dict(), seconds, history, engine),
        "metrics": {"onnx_parity_max_abs_diff": parity(decoder, out / "model.onnx", {"z": z})},
    }
    if config.model == "vae":
        card["encoder"] = export_encoder(models, config, out / "encoder.onnx")
        card["metrics"]["encoder_onnx_parity_max_abs_diff"] = card["encoder"].pop("parity")
        card["metrics"] |= latent_spread(models, config)
    return write_card(out, card)


def export_encoder(models: dict[str, torch.nn.Module], config: Config, path: Path) -> dict:
    """Write ``encoder.onnx`` (images to their latents' means, :class:`MeanEncoder`); its card
    record, with the parity measured on random images."""
    network = MeanEncoder(models["vae"], models.get("prior")).eval()
    shape = (4, config.channels, config.size, config.size)
    images = np.random.default_rng(0).random(shape, dtype=np.float32)
    export_onnx(network, {"images": torch.from_numpy(images)}, path, ["mean"])
    return {**onnx_record(path), "parity": parity(network, path, {"images": images})}


def latent_spread(models: dict[str, torch.nn.Module], config: Config) -> dict[str, float]:
    """Where the VAE's samples come from, N(0, I), against where its encoder puts images: the
    mean per-coordinate standard deviation of the encoder's means (through the flow's inverse,
    if it has one) of training images and of held-out ones. Near 1 for both when the prior fits
    the codes and generalises; a prior that fits only the training codes leaves held-out ones
    wider."""
    network = encoder(models).eval()
    # The training images as training read them: a user's folder is not preprocessed again.
    sets = {"train": training_pixels(config), "held_out": image_sets.held_out_pixels(config.data)}
    spread = {}
    for name, pixels in sets.items():
        if pixels is not None:
            images = as_float(torch.from_numpy(pixels[:SPREAD_IMAGES]).permute(0, 3, 1, 2))
            with torch.no_grad():
                means = torch.cat([network(batch)[0] for batch in images.split(1000)])
            spread[f"latent_spread_{name}"] = round(float(means.std(0).mean()), 4)
    return spread
