"""Training the VAE and the DCGAN as people expect it: progress bars, a sample grid from fixed
latents after every epoch, loss curves, checkpoints with resume, fixed seeds.

A run writes into its folder: ``samples/epoch_NNN.png``, ``losses.json`` and ``losses.png``, and
``checkpoint.pt`` (weights and optimiser states, loaded back with ``weights_only=True``).
"""

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn  # noqa: E402
from tqdm import tqdm  # noqa: E402

from training.fashion import load_fashion  # noqa: E402
from training.generative_models import (  # noqa: E402
    ConvVAE,
    Discriminator,
    Generator,
    discriminator_loss,
    generator_loss,
    vae_loss,
)
from training.image_folders import load_images  # noqa: E402
from training.latent_prior import LatentFlow, Sampler  # noqa: E402
from training.latent_prior import fit as fit_latent_prior  # noqa: E402

FASHION = "fashion-mnist"


@dataclass
class Config:
    """Everything that determines a run; stored whole in the checkpoint and the model card."""

    model: str = "vae"  # or "gan"
    data: str = FASHION  # or a folder, zip or .npy of images (see training.image_folders)
    size: int = 28
    channels: int = 1
    limit: int | None = None  # the first N images (the study used 20,000 CelebA faces)
    latent: int = 32
    filters: int = 32
    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    beta: float = 1.0
    ema: float = 0.999  # GAN: the generator sampled and exported is this moving average (0: off)
    prior_epochs: int = 0  # VAE: epochs of a flow fitted to its latents (0: sample N(0, I) as is)
    seed: int = 0
    grid: int = 64  # samples per epoch's grid, from the same latents every epoch

    def to_dict(self) -> dict:
        return asdict(self)


def training_images(config: Config) -> torch.Tensor:
    """float32 ``[n, channels, size, size]`` in 0..1: Fashion-MNIST train, or the user's images."""
    if config.data == FASHION:
        if (config.size, config.channels) != (28, 1):
            raise ValueError("Fashion-MNIST is 28x28 with 1 channel")
        pixels = load_fashion("train")[0][: config.limit, :, :, None]
    else:
        pixels = load_images(Path(config.data), config.size, config.channels, config.limit)
    return torch.from_numpy(pixels).permute(0, 3, 1, 2).float() / 255


def build_models(config: Config) -> dict[str, torch.nn.Module]:
    if config.model == "vae":
        return {"vae": ConvVAE(config.size, config.channels, config.latent, config.filters)}
    return {
        "generator": Generator(config.latent, config.size, config.channels, config.filters),
        "discriminator": Discriminator(config.size, config.channels, config.filters),
    }


def moving_average(models: dict, config: Config) -> AveragedModel | None:
    """An exponential moving average of the GAN generator's weights and BatchNorm statistics:
    it smooths the step-to-step wobble of adversarial training out of the samples."""
    if config.model != "gan" or not config.ema:
        return None
    averaging = get_ema_multi_avg_fn(config.ema)
    return AveragedModel(models["generator"], multi_avg_fn=averaging, use_buffers=True)


def sampler(models: dict[str, torch.nn.Module]) -> torch.nn.Module:
    """The network that turns latents into images: the VAE's decoder (after its latent prior's,
    if it has one), the GAN's averaged generator, or the GAN's generator if it is not averaged."""
    if "prior" in models:
        return Sampler(models["prior"], models["vae"].decoder)
    if "vae" in models:
        return models["vae"].decoder
    averaged = models.get("generator_average")
    return averaged.module if averaged is not None else models["generator"]


class Encoder(torch.nn.Module):
    """Images -> mean and log-variance of the latent that `sampler` takes: the VAE's own, or
    with a latent prior, mapped through the flow's inverse (the variance scaled as the flow
    scales each coordinate)."""

    def __init__(self, vae: ConvVAE, prior: LatentFlow | None = None):
        super().__init__()
        self.vae, self.prior = vae, prior

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, log_var = self.vae.encode(images)
        if self.prior is None:
            return mean, log_var
        z, log_scale = self.prior.inverse(mean)
        return z, log_var + 2 * log_scale


def encoder(models: dict[str, torch.nn.Module]) -> Encoder:
    return Encoder(models["vae"], models.get("prior")).eval()


def add_latent_prior(
    models: dict, config: Config, images: torch.Tensor, run_dir: Path, progress: bool
) -> dict[str, float]:
    """Fit a flow to the encoder's means of the training images (see training.latent_prior),
    put it in ``models["prior"]``, save a grid of what it samples."""
    started = time.perf_counter()
    vae, batches = models["vae"].eval(), images.split(1000)
    with torch.no_grad():
        codes = torch.cat([vae.encode(batch)[0] for batch in batches])
    prior, losses = fit_latent_prior(codes, config.prior_epochs, progress=progress)
    models["prior"] = prior
    save_samples(models, config, run_dir / "samples" / "latent_prior.png")
    return {"prior_loss": losses[-1], "prior_seconds": round(time.perf_counter() - started, 3)}


def save_samples(models: dict[str, torch.nn.Module], config: Config, path: Path) -> None:
    """A grid of what `sampler` draws from the run's fixed latents (the same every epoch)."""
    fixed = torch.randn(config.grid, config.latent, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        samples = sampler(models).eval()(fixed)
    Image.fromarray(grid(samples)).save(path)


def grid(images: torch.Tensor) -> np.ndarray:
    """``[n, c, h, w]`` in 0..1 as one uint8 picture, ``sqrt(n)`` images a row."""
    n, c, h, w = images.shape
    side = int(np.ceil(np.sqrt(n)))
    canvas = torch.zeros(c, side * h, side * w)
    for i, image in enumerate(images):
        canvas[:, (i // side) * h : (i // side + 1) * h, (i % side) * w : (i % side + 1) * w] = (
            image
        )
    pixels = (canvas.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()
    return pixels[..., 0] if c == 1 else pixels


def plot_losses(history: list[dict], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(6, 4))
    for key in history[0]:
        if key.startswith("loss"):
            ax.plot([h["epoch"] for h in history], [h[key] for h in history], marker=".", label=key)
    ax.set(xlabel="epoch", ylabel="training loss (mean per batch)")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def fit(
    config: Config,
    run_dir: Path,
    resume: bool = False,
    progress: bool = True,
    max_batches: int | None = None,
) -> tuple[dict[str, torch.nn.Module], list[dict]]:
    """Train, or with ``resume`` continue the run in ``run_dir``; returns the models and losses."""
    torch.manual_seed(config.seed)
    images = training_images(config)
    models = build_models(config)
    betas = (0.5, 0.999) if config.model == "gan" else (0.9, 0.999)
    optimizers = {
        n: torch.optim.Adam(m.parameters(), config.lr, betas=betas) for n, m in models.items()
    }
    average = moving_average(models, config)
    history, start = [], 1
    checkpoint = run_dir / "checkpoint.pt"
    if resume and checkpoint.is_file():
        saved = torch.load(checkpoint, weights_only=True)
        if {**saved["config"], "epochs": config.epochs} != config.to_dict():  # only epochs may grow
            raise ValueError(f"{checkpoint} was trained with another config: {saved['config']}")
        for name in models:
            models[name].load_state_dict(saved["models"][name])
            optimizers[name].load_state_dict(saved["optimizers"][name])
        if average is not None:
            average.load_state_dict(saved["average"])
        history, start = saved["history"], saved["history"][-1]["epoch"] + 1
        torch.set_rng_state(saved["rng"])
    finished = models if average is None else {**models, "generator_average": average}
    (run_dir / "samples").mkdir(parents=True, exist_ok=True)
    for epoch in tqdm(range(start, config.epochs + 1), desc=config.model, disable=not progress):
        started = time.perf_counter()
        order = torch.randperm(len(images))
        steps = min(max(1, len(images) // config.batch_size), max_batches or len(images))
        totals: dict[str, float] = {}
        for m in models.values():
            m.train()
        for step in range(steps):
            batch = images[order[step * config.batch_size : (step + 1) * config.batch_size]]
            for name, value in train_step(config, models, optimizers, batch).items():
                totals[name] = totals.get(name, 0.0) + value / steps
            if average is not None:
                average.update_parameters(models["generator"])
        seconds = round(time.perf_counter() - started, 3)  # summed over resumed legs for the card
        history.append({"epoch": epoch, **totals, "seconds": seconds})
        save_samples(finished, config, run_dir / "samples" / f"epoch_{epoch:03d}.png")
        torch.save(
            {
                "config": config.to_dict(),
                "models": {n: m.state_dict() for n, m in models.items()},
                "optimizers": {n: o.state_dict() for n, o in optimizers.items()},
                "average": None if average is None else average.state_dict(),
                "history": history,
                "rng": torch.get_rng_state(),
            },
            checkpoint,
        )
        (run_dir / "losses.json").write_text(json.dumps(history, indent=1) + "\n")
        plot_losses(history, run_dir / "losses.png")
    if config.model == "vae" and config.prior_epochs:  # refitted on resume: it takes minutes
        history[-1].update(add_latent_prior(models, config, images, run_dir, progress))
        (run_dir / "losses.json").write_text(json.dumps(history, indent=1) + "\n")
    return finished, history


def train_step(config: Config, models: dict, optimizers: dict, batch: torch.Tensor) -> dict:
    """One optimiser step of every network; the losses as floats."""
    if config.model == "vae":
        loss = vae_loss(models["vae"], batch, config.beta)
        optimizers["vae"].zero_grad()
        loss.backward()
        optimizers["vae"].step()
        return {"loss": loss.item()}
    generator, discriminator = models["generator"], models["discriminator"]
    fake = generator(torch.randn(len(batch), generator.latent))  # one fake batch for both steps
    d_loss = discriminator_loss(discriminator, batch, fake)
    optimizers["discriminator"].zero_grad()
    d_loss.backward()
    optimizers["discriminator"].step()
    g_loss = generator_loss(discriminator, fake)  # scored by the discriminator just updated
    optimizers["generator"].zero_grad()
    g_loss.backward()
    optimizers["generator"].step()
    return {"loss": g_loss.item(), "loss_discriminator": d_loss.item()}  # loss: the generator's
