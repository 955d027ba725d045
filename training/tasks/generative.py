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
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.utils.data import TensorDataset

from training.data import image_sets
from training.devices import device_of
from training.launch import Launch, launch_for
from training.models.consistency import consistency_penalty
from training.models.diff_augment import POLICIES, diff_augment, policy
from training.models.flow import HIDDEN, PriorEncoder, Sampler
from training.models.generators import (
    GAN_LOSSES,
    LIKELIHOODS,
    SIZES,
    ConvVAE,
    Discriminator,
    Generator,
    vae_loss,
)
from training.runtime import REPO, add_config_flags, add_runtime_flags, config_from, dry_run_folder
from training.task import Task, Update, linear_decay, moving_average
from training.tasks.latent_prior import fit_latent_prior
from training.tasks.run_pictures import grid, plot_losses


@dataclass
class Config:
    """Everything that determines a run; stored whole in the checkpoint and the model card."""

    model: str = "vae"  # or "gan"
    data: str = image_sets.FASHION  # or emoji-faces, or a folder, zip or .npy of images
    size: int = 28
    channels: int = 1
    limit: int | None = None  # the first N images (the study used 20,000 CelebA faces)
    latent: int = 32
    filters: int = 32
    depth: int = 0  # 3x3 convs a scale in the decoder/generator (0: the study's DCGAN shape)
    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    beta: float = 1.0
    likelihood: str = "bernoulli"  # VAE: or "gaussian" (its variance learnt, see vae_loss)
    ema: float = 0.999  # GAN: the generator sampled and exported is this moving average (0: off)
    diffaugment: str = ""  # GAN: e.g. "color,translation,cutout", see models.diff_augment
    gan_loss: str = "non-saturating"  # GAN: or "hinge"
    spectral_norm: bool = False  # GAN: spectral norm in the discriminator instead of BatchNorm
    lr_decay: bool = False  # GAN: both learning rates fall linearly to 0 over the epochs
    lr_discriminator: float = 0.0  # GAN: the discriminator's own rate (TTUR); 0: the same as lr
    consistency: float = 0.0  # GAN: weight of the discriminator's consistency penalty (bCR; 0: off)
    prior_epochs: int = 0  # VAE: epochs of a flow fitted to its latents (0: sample N(0, I) as is)
    prior_hidden: int = HIDDEN  # VAE: width of the flow's layers (shipped in sampler and encoder)
    prior_codes: str = "means"  # VAE: the flow fits the encoder's means, or posterior "draws"
    seed: int = 0
    grid: int = 64  # samples per epoch's grid, from the same latents every epoch

    def to_dict(self) -> dict:
        return asdict(self)


def training_pixels(config: Config) -> np.ndarray:
    """uint8 ``[n, size, size, channels]``: see :mod:`training.data.image_sets`."""
    return image_sets.train_pixels(config.data, config.size, config.channels, config.limit)


def training_images(config: Config) -> torch.Tensor:
    """float32 ``[n, channels, size, size]`` in 0..1."""
    return as_float(torch.from_numpy(training_pixels(config)).permute(0, 3, 1, 2))


def as_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 images to float in 0..1, on whatever device they are."""
    return images.float() / 255


def sampler(models: dict[str, nn.Module]) -> nn.Module:
    """The network that turns latents into images: the VAE's decoder (after its latent prior's,
    if it has one), the GAN's averaged generator, or the GAN's generator if it is not averaged."""
    if "prior" in models:
        return Sampler(models["prior"], models["vae"].decoder)
    if "vae" in models:
        return models["vae"].decoder
    averaged = models.get("generator_average")
    return averaged.module if averaged is not None else models["generator"]


def encoder(models: dict[str, nn.Module]) -> PriorEncoder:
    return PriorEncoder(models["vae"], models.get("prior")).eval()


def fixed_latents(config: Config) -> torch.Tensor:
    """The latents of every epoch's grid (the same every epoch)."""
    return torch.randn(config.grid, config.latent, generator=torch.Generator().manual_seed(0))


def draw_samples(models: dict[str, nn.Module], config: Config) -> torch.Tensor:
    """What `sampler` draws from the fixed latents, ``[grid, c, h, w]`` on the CPU."""
    network = sampler(models).eval()
    device = device_of(network)
    with torch.no_grad():
        return network(fixed_latents(config).to(device)).cpu()


def save_samples(models: dict[str, nn.Module], config: Config, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(grid(draw_samples(models, config))).save(path)


class ImageTask(Task):
    """What the VAE and the DCGAN share: the images, the per-epoch grid and curves, the config."""

    def __init__(self, config: Config):
        self.settings, self.name = config, config.model
        self.seed, self.batch_size, self.epochs = config.seed, config.batch_size, config.epochs
        self.pixels = torch.from_numpy(training_pixels(config)).permute(0, 3, 1, 2).contiguous()
        self.drop_last = True  # as many whole batches as fit (an epoch has at least one)

    def dataset(self) -> TensorDataset:
        return TensorDataset(self.pixels)  # uint8: a 64x64 RGB set stays a quarter the size

    def images(self) -> torch.Tensor:
        return draw_samples(self.models, self.settings)

    def end_epoch(self, history: list[dict], run_dir: Path) -> None:
        epoch = history[-1]["epoch"]
        save_samples(self.models, self.settings, run_dir / "samples" / f"epoch_{epoch:03d}.png")
        (run_dir / "losses.json").write_text(json.dumps(history, indent=1) + "\n")
        plot_losses(history, run_dir / "losses.png")

    def config(self) -> dict:
        return self.settings.to_dict()

    def to_match(self, config: dict) -> dict:
        """All but the epochs and the latent prior's settings: every resume fits the prior anew."""
        return {k: v for k, v in super().to_match(config).items() if not k.startswith("prior_")}


class VAETask(ImageTask):
    """Reconstruction (``likelihood``) + ``beta`` x KL, Adam at a constant learning rate."""

    def build(self) -> dict[str, nn.Module]:
        c = self.settings
        return {"vae": ConvVAE(c.size, c.channels, c.latent, c.filters, c.depth)}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"vae": torch.optim.Adam(self.models["vae"].parameters(), self.settings.lr)}

    def step(self, nets: dict[str, nn.Module], batch: tuple, update: Update) -> dict[str, float]:
        images = as_float(batch[0])
        c = self.settings
        return {"loss": update("vae", vae_loss(nets["vae"], images, c.beta, c.likelihood))}


class GANTask(ImageTask):
    """DCGAN, both networks under Adam (0.5, 0.999), and with ``ema`` a moving average of the
    generator's weights and BatchNorm statistics, which smooths the step-to-step wobble of
    adversarial training out of the samples; with ``diffaugment`` the discriminator judges real
    and generated images alike through random augmentations (for small sets). The loss, the
    discriminator's normalisation, rate and consistency penalty, and the rates' decay are options
    (``Config``)."""

    def build(self) -> dict[str, nn.Module]:
        c = self.settings
        generator = Generator(c.latent, c.size, c.channels, c.filters, c.depth)
        discriminator = Discriminator(c.size, c.channels, c.filters, c.spectral_norm)
        models = {"generator": generator, "discriminator": discriminator}
        if c.ema:
            models["generator_average"] = moving_average(generator, c.ema)
        return models

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Adam (0.5, 0.999); the discriminator may learn faster than the generator (the two
        time-scale update rule of Heusel et al. 2017, which also introduced the FID)."""
        c = self.settings
        rates = {"generator": c.lr, "discriminator": c.lr_discriminator or c.lr}
        return {name: torch.optim.Adam(self.models[name].parameters(), rate, betas=(0.5, 0.999))
                for name, rate in rates.items()}  # fmt: skip

    def schedule(self, name: str):
        return linear_decay if self.settings.lr_decay else None

    def step(self, nets: dict[str, nn.Module], batch: tuple, update: Update) -> dict[str, float]:
        c, real = self.settings, as_float(batch[0])

        def discriminator(images: torch.Tensor) -> torch.Tensor:
            return nets["discriminator"](diff_augment(images, c.diffaugment))

        discriminator_loss, generator_loss = GAN_LOSSES[c.gan_loss]
        fake = nets["generator"](torch.randn(len(real), c.latent, device=real.device))
        judged = (real, discriminator(real)), (fake.detach(), discriminator(fake.detach()))
        d_loss = discriminator_loss(judged[0][1], judged[1][1])
        if c.consistency:  # bCR: real and generated images scored alike under a flip and shift
            d_loss = d_loss + c.consistency * consistency_penalty(discriminator, *judged)
        d_value = update("discriminator", d_loss)
        g_loss = generator_loss(discriminator(fake))  # scored by the discriminator just updated
        return {"loss": update("generator", g_loss), "loss_discriminator": d_value}

    def after_step(self) -> None:
        if "generator_average" in self.models:
            self.models["generator_average"].update_parameters(self.models["generator"])


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
    add_config_flags(parser, Config, "limit", "latent", "filters", "depth", "epochs", "batch_size",
                     "prior_epochs", "prior_hidden", "seed", "lr", "lr_discriminator", "beta",
                     "ema", "consistency")  # fmt: skip
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
    parser.add_argument("--out", type=Path, help="the run's folder; default: runs/<model>")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out")
    parser.add_argument("--export", type=Path, help="also write the generator to this folder")
    parser.add_argument("--dry-run", action="store_true", help="at most 2 epochs of 2 batches")
    add_runtime_flags(parser)


def run(args: argparse.Namespace, command: str) -> None:
    config = config_from(args, Config)
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
            from training.tasks.generative_export import export_generator  # it imports this module

            export_generator(models, config, history, seconds, args.export, command, engine)
            print(f"exported {args.export}")
