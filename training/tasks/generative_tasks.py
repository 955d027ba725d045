"""What a run of the VAE or the DCGAN is made of: its ``Config``, its images, the task each
network trains as (one step of each, on :mod:`training.engine`), and the grid of samples drawn
from the same latents after every epoch. The command that runs them is
:mod:`training.tasks.generative`; the networks are in :mod:`training.models.generators`.
"""

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.utils.data import TensorDataset

from training.data import image_sets
from training.devices import device_of
from training.models.consistency import consistency_penalty
from training.models.diff_augment import diff_augment
from training.models.flow import HIDDEN, PriorEncoder, Sampler
from training.models.generators import (
    GAN_LOSSES,
    ConvVAE,
    Discriminator,
    Generator,
    latent_class,
    vae_loss,
)
from training.task import Task, Update, linear_decay, moving_average
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
    generator_filters: int = 0  # GAN: the generator's own filters (0: the same as filters)
    depth: int = 0  # 3x3 convs a scale in the decoder/generator (0: the study's DCGAN shape)
    discriminator_depth: int = 0  # GAN: 3x3 convs a scale in the discriminator (0: DCGAN's)
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
    conditional: bool = False  # GAN: on the images' classes (Fashion-MNIST's), read from z
    prior_epochs: int = 0  # VAE: epochs of a flow fitted to its latents (0: sample N(0, I) as is)
    prior_hidden: int = HIDDEN  # VAE: width of the flow's layers (shipped in sampler and encoder)
    prior_codes: str = "means"  # VAE: the flow fits the encoder's means, or posterior "draws"
    seed: int = 0
    grid: int = 64  # samples per epoch's grid, from the same latents every epoch

    def to_dict(self) -> dict:
        return asdict(self)


# The fields one model alone reads: given for the other, they would be ignored without a word.
MODEL_ONLY = {
    "gan": ("generator_filters", "discriminator_depth", "ema", "diffaugment", "gan_loss",
            "spectral_norm", "lr_decay", "lr_discriminator", "consistency", "conditional"),
    "vae": ("beta", "likelihood", "prior_epochs", "prior_hidden", "prior_codes"),
}  # fmt: skip


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
    (``Config``); ``conditional`` trains on the images' classes (see ``Generator``)."""

    def __init__(self, config: Config):
        super().__init__(config)
        self.labels, self.classes = None, 0
        if config.conditional:
            self.labels, self.classes = image_sets.train_labels(config.data, config.limit)

    def dataset(self) -> TensorDataset:
        labels = () if self.labels is None else (torch.from_numpy(self.labels),)
        return TensorDataset(self.pixels, *labels)

    def build(self) -> dict[str, nn.Module]:
        c, classes = self.settings, self.classes
        filters = c.generator_filters or c.filters
        generator = Generator(c.latent, c.size, c.channels, filters, c.depth, classes)
        discriminator = Discriminator(c.size, c.channels, c.filters, c.spectral_norm, classes,
                                      c.discriminator_depth)  # fmt: skip
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
        z = torch.randn(len(real), c.latent, device=real.device)
        classes = (batch[1], latent_class(z, self.classes)) if self.classes else (None, None)

        def judge(labels: torch.Tensor | None) -> Callable[[torch.Tensor], torch.Tensor]:
            """The discriminator's logits of images of these classes (or of any)."""
            return lambda images: nets["discriminator"](diff_augment(images, c.diffaugment), labels)

        discriminator_loss, generator_loss = GAN_LOSSES[c.gan_loss]
        fake = nets["generator"](z)
        judges = judge(classes[0]), judge(classes[1])
        judged = (real, judges[0](real)), (fake.detach(), judges[1](fake.detach()))
        d_loss = discriminator_loss(judged[0][1], judged[1][1])
        if c.consistency:  # bCR: real and generated images scored alike under a flip and shift
            penalties = map(consistency_penalty, judges, judged)
            d_loss = d_loss + c.consistency * sum(penalties)
        d_value = update("discriminator", d_loss)
        g_loss = generator_loss(judges[1](fake))  # scored by the discriminator just updated
        return {"loss": update("generator", g_loss), "loss_discriminator": d_value}

    def after_step(self) -> None:
        if "generator_average" in self.models:
            self.models["generator_average"].update_parameters(self.models["generator"])
