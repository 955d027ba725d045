"""Export a trained generator (the VAE's decoder or the DCGAN's generator) to `exported/<name>/`.

The ONNX graph maps latents ``z [batch, latent]`` to images ``[batch, channels, size, size]`` in
0..1; the card says how the service draws ``z`` from a seed, so `/sample` and `/interpolate` give
the images the card's numbers describe.
"""

from pathlib import Path

import numpy as np
import torch

from training.export import export_onnx, parity, training_record, write_card
from training.generative import Config

LATENT_FROM_SEED = "numpy.random.default_rng(seed).standard_normal((n, latent), dtype=float32)"


def export_generator(
    models: dict[str, torch.nn.Module],
    config: Config,
    history: list[dict],
    seconds: float,
    out: Path,
    command: str,
) -> dict:
    """Write ``out/model.onnx`` (latents to images) and its card."""
    decoder = (models["vae"].decoder if config.model == "vae" else models["generator"]).eval()
    z = np.random.default_rng(0).standard_normal((4, config.latent), dtype=np.float32)
    export_onnx(decoder, {"z": torch.from_numpy(z)}, out / "model.onnx", ["images"])
    card = {
        "task": config.model,
        "description": (
            f"{'Decoder of a convolutional VAE' if config.model == 'vae' else 'DCGAN generator'}: "
            f"latent vectors to {config.size}x{config.size} images, {config.channels} channel(s)."
        ),
        "latent": config.latent,
        "latent_from_seed": LATENT_FROM_SEED,
        "image": {"size": config.size, "channels": config.channels, "range": "0..1"},
        "dataset": {"data": config.data, "limit": config.limit},
        "training": training_record(command, config.to_dict(), seconds, history),
        "metrics": {"onnx_parity_max_abs_diff": parity(decoder, out / "model.onnx", {"z": z})},
    }
    return write_card(out, card)
