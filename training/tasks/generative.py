"""Training the VAE and the DCGAN as people expect it: progress bars, a sample grid from fixed
latents after every epoch, loss curves, TensorBoard, checkpoints with resume, fixed seeds.

A run writes into its folder: ``samples/epoch_NNN.png``, ``losses.json`` and ``losses.png``,
``checkpoint.pt`` (weights and optimiser states, loaded back with ``weights_only=True``) and
``tensorboard/``. A VAE may then get a flow fitted to its latents (``--prior-epochs``, see
:mod:`training.models.flow`), trained by the same engine. ``--export`` writes the generator
(:mod:`training.tasks.generative_export`).
"""

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import torch
from torch import nn

from training.launch import Launch, launch_for
from training.models.diff_augment import POLICIES, policy
from training.models.generators import GAN_LOSSES, LIKELIHOODS, SIZES
from training.runtime import REPO, add_config_flags, add_runtime_flags, config_from, dry_run_folder
from training.tasks.generative_export import export_generator
from training.tasks.generative_tasks import (
    MODEL_ONLY,
    Config,
    GANTask,
    VAETask,
    save_samples,
    training_images,
)
from training.tasks.latent_prior import fit_latent_prior
from training.usage import UsageError


def add_latent_prior(models: dict, config: Config, launch: Launch) -> dict[str, float]:
    """Fit a flow to the encoder's codes of the training images, put it in ``models["prior"]``,
    save a grid of what it samples."""
    started = time.perf_counter()
    vae = models["vae"].eval()
    with torch.no_grad():
        posteriors = [vae.encode(batch) for batch in training_images(config).split(1000)]
    means, log_vars = (torch.cat(parts) for parts in zip(*posteriors, strict=True))
    draws = log_vars if config.prior_codes == "draws" else None
    models["prior"], losses = fit_latent_prior(
        means, config.prior_epochs, launch, config.seed, config.prior_hidden, draws
    )
    if launch.engine.is_main:
        save_samples(models, config, launch.run_dir / "samples" / "latent_prior.png")
    return {"prior_loss": losses[-1], "prior_seconds": round(time.perf_counter() - started, 3)}


def fit(config: Config, launch: Launch) -> tuple[dict[str, nn.Module], list[dict]]:
    """Train, or with ``resume`` continue the run in the launch's ``run_dir`` (which a
    generative run always has); returns the models and the losses."""
    task = (VAETask if config.model == "vae" else GANTask)(config)
    history = launch.fit(task)
    models = dict(task.models)
    if config.model == "vae" and config.prior_epochs:  # refitted on resume: it takes minutes
        history[-1].update(add_latent_prior(models, config, launch))
        if launch.engine.is_main:
            (launch.run_dir / "losses.json").write_text(json.dumps(history, indent=1) + "\n")
    return models, history


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", choices=["vae", "gan"], default=Config.model)
    parser.add_argument(
        "--data",
        default=Config.data,
        help="fashion-mnist, emoji-faces (or another emoji subset: "
        "training.data.emoji.SUBSETS), or a folder/zip/.npy of your images",
    )
    parser.add_argument("--size", type=int, choices=SIZES, default=Config.size)
    parser.add_argument("--channels", type=int, choices=(1, 3), default=Config.channels)
    add_config_flags(parser, Config, "limit", "latent", "filters", "generator_filters", "depth",
                     "discriminator_depth", "epochs", "batch_size", "prior_epochs", "prior_hidden",
                     "seed", "lr", "lr_discriminator", "beta", "ema", "consistency")  # fmt: skip
    parser.add_argument("--likelihood", choices=LIKELIHOODS, default=Config.likelihood,
                        help="VAE: the decoder's; gaussian learns its variance")  # fmt: skip
    parser.add_argument("--prior-codes", choices=["means", "draws"], default=Config.prior_codes,
                        help="VAE: what the flow fits: the encoder's means, or draws")  # fmt: skip
    parser.add_argument(
        "--diffaugment", type=policy, default=Config.diffaugment,
        help=f"GAN: augmentations the discriminator sees every image through, of {POLICIES}",
    )  # fmt: skip
    parser.add_argument("--gan-loss", choices=list(GAN_LOSSES), default=Config.gan_loss)
    parser.add_argument("--spectral-norm", action="store_true", help="GAN: in D, not BatchNorm")
    parser.add_argument("--lr-decay", action="store_true", help="GAN: linearly to 0 over the run")
    parser.add_argument("--conditional", action="store_true",
                        help="GAN: on Fashion-MNIST's classes, the class read from z")  # fmt: skip
    parser.add_argument("--out", type=Path, help="the run's folder; default: runs/<model>")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out")
    parser.add_argument("--export", type=Path, help="also write the generator to this folder")
    parser.add_argument("--dry-run", action="store_true", help="at most 2 epochs of 2 batches")
    add_runtime_flags(parser)


def run(args: argparse.Namespace, command: str) -> None:
    config = config_from(args, Config)
    for model, fields in MODEL_ONLY.items():
        for field in fields:
            if config.model != model and getattr(config, field) != getattr(Config, field):
                raise UsageError(f"--{field.replace('_', '-')} is for --model {model}")
    if args.dry_run:
        config = replace(config, epochs=min(config.epochs, 2),
                         prior_epochs=min(config.prior_epochs, 1))  # fmt: skip
    default = dry_run_folder("generative") if args.dry_run else REPO / "runs" / config.model
    run_dir = args.out or default
    with launch_for(args, run_dir) as launch:
        models, history = fit(config, launch)
        engine = launch.engine
        if not engine.is_main:
            return
        print(f"wrote {run_dir}: samples/, losses.json, losses.png, checkpoint.pt; {history[-1]}")
        if args.export:
            # Training time is the sum of the epochs' times, so a resumed run counts every leg.
            seconds = sum(h.get("seconds", 0.0) + h.get("prior_seconds", 0.0) for h in history)
            export_generator(models, config, history, seconds, args.export, command, engine)
            print(f"exported {args.export}")
