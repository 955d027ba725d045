"""The study's generative experiments (its Figures 1-9) in its own configuration, 64x64 colour
faces (the emoji ``faces`` set, :mod:`training.data.emoji`): VAEs with latent 32/64/128 and
DCGANs with latent 64/128/256, each trained the same number of epochs.

For every run the report shows the loss curves, the sample grid of the first and of the last epoch
(the same fixed latents), and an interpolation row: for a GAN between two random latents, for a
VAE between two real held-out images it encoded, as the study did. The table gives the epochs,
the time and the Inception FID of every run (:mod:`training.evaluation.inception_fid`, fewer
samples than a card's 10,000 so that six runs stay affordable). Runs go side by side, one thread
each; each keeps its checkpoint and its result under ``runs/study/`` so ``--resume`` carries on.
"""

import argparse
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402
from PIL import Image  # noqa: E402

from service.latents import from_seed, path  # noqa: E402
from training.data import image_sets  # noqa: E402
from training.engine import Engine  # noqa: E402
from training.evaluation.inception_fid import helper, inception_fid, references  # noqa: E402
from training.experiments.reports import save_report  # noqa: E402
from training.experiments.runner import run_all  # noqa: E402
from training.launch import Launch  # noqa: E402
from training.models.diff_augment import policy  # noqa: E402
from training.models.generators import SIZES  # noqa: E402
from training.runtime import REPO, add_study_flags, out_dir, positive, runtime_from  # noqa: E402
from training.tasks.generative import fit  # noqa: E402
from training.tasks.generative_tasks import Config, encoder, sampler, training_images  # noqa: E402

LATENTS = {"vae": (32, 64, 128), "gan": (64, 128, 256)}
STEPS = 10  # images in an interpolation row
FID_SAMPLES = 2000
FACES = {"data": "emoji-faces", "size": 64, "channels": 3}


def base_configs(
    vae_epochs: int, gan_epochs: int, gan_diffaugment: str = "", **data
) -> dict[str, Config]:
    """The study's VAE and DCGAN (sampled through the averaged generator), both 32 filters wide
    so six runs fit this CPU. The VAE is the shipped vae-faces' recipe: beta 0.5 and a flow
    fitted to its codes after training, which it samples through (with N(0, I) and beta 1, 20
    epochs gave Inception FIDs 254-282 and blurred grids). DiffAugment is off unless asked for:
    it slows the start (20 epochs: Inception FID 283 with it, 265 without) and pays only in runs
    as long as the shipped gan-faces' 100 epochs."""
    return {
        "vae": Config(model="vae", filters=32, lr=1e-3, epochs=vae_epochs, beta=0.5,
                      prior_epochs=100, **data),
        "gan": Config(model="gan", filters=32, lr=2e-4, epochs=gan_epochs,
                      diffaugment=gan_diffaugment, **data),
    }  # fmt: skip


def held_out_pair(config: Config) -> torch.Tensor:
    """The two real images a VAE row runs between: the first two held out (Fashion-MNIST test: a
    boot and a pullover), or the first two of the user's images (they have no held-out split)."""
    held_out = image_sets.held_out_pixels(config.data)
    if held_out is None:
        return training_images(replace(config, limit=2))
    return torch.from_numpy(held_out[:2]).permute(0, 3, 1, 2).float() / 255


@dataclass(frozen=True)
class Run:
    """One run of the study and where it writes; its settings name its kept result
    (runner.kept_at)."""

    config: Config
    run_dir: Path
    assets: Path = field(repr=False)  # where its pictures go, not what it is
    max_batches: int | None
    resume: bool = field(default=False, repr=False)  # how to run it, not what it is


def run_one(job: Run, engine: Engine) -> dict:
    """Train one run (with ``resume``, from its checkpoint); write its first and last grids and
    its interpolation row into ``assets``; measure its FID unless it is a dry run."""
    config, run_dir, assets, max_batches = job.config, job.run_dir, job.assets, job.max_batches
    launch = Launch(engine, run_dir, job.resume, progress=False, max_batches=max_batches)
    models, history = fit(config, launch)
    seconds = sum(h.get("seconds", 0.0) for h in history)  # every leg of a resumed run
    name = f"{config.model}-{config.latent}"
    shutil.copy(run_dir / "samples" / "epoch_001.png", assets / f"{name}-first.png")
    # A VAE with a prior samples through it: its last grid is what the finished model draws.
    last = "latent_prior.png" if config.prior_epochs else f"epoch_{config.epochs:03d}.png"
    shutil.copy(run_dir / "samples" / last, assets / f"{name}-last.png")
    decoder = sampler(models).eval()
    with torch.no_grad():
        if config.model == "vae":
            a, b = encoder(models)(held_out_pair(config))[0].numpy()
            row = decoder(torch.from_numpy(path(a, b, STEPS, "linear")))
        else:
            a, b = from_seed(1, 1, config.latent)[0], from_seed(2, 1, config.latent)[0]
            row = decoder(torch.from_numpy(path(a, b, STEPS, "slerp")))
        Image.fromarray(grid_row(row)).save(assets / f"{name}-interpolation.png")
        fid = None  # a user's own images have no reference set here
        if max_batches is None and image_sets.shape(config.data) is not None:
            z = torch.from_numpy(from_seed(0, FID_SAMPLES, config.latent))
            fid = inception_fid(decoder(z).numpy(), reference(config))
    return {"name": name, "model": config.model, "latent": config.latent,
            "epochs": config.epochs, "seconds": round(seconds, 1), "inception_fid": fid,
            "history": history, "config": config.to_dict()}  # fmt: skip


def reference(config: Config) -> dict[str, np.ndarray]:
    """The Inception statistics a run's samples are compared with: the whole faces set (or
    Fashion-MNIST's test set), cached under ``data/inception/`` after the first call."""
    return references(helper(), config.data, None, config.size, config.channels)["inception_fid"][1]


def grid_row(images: torch.Tensor) -> np.ndarray:
    """``[n, c, h, w]`` side by side as one uint8 picture."""
    pixels = (images.clamp(0, 1) * 255).round().byte().permute(2, 0, 3, 1).flatten(1, 2).numpy()
    return pixels[..., 0] if pixels.shape[-1] == 1 else pixels


def study(
    bases: dict[str, Config],
    out: Path,
    runs_dir: Path,
    jobs: int,
    engine: Engine,
    max_batches: int | None = None,
    resume: bool = False,
) -> list[dict] | None:
    """Every run of the study (the results on rank 0, else None). Each run's grids and row are
    written by the process that trained it into ``runs_dir/assets``, and its result is kept in
    ``runs_dir/results``: ``resume`` reuses both and continues unfinished runs. Once all are done
    the pictures are copied to ``out/generative_study/``, so the committed report's pictures
    change only with its table."""
    assets = runs_dir / "assets"
    assets.mkdir(parents=True, exist_ok=True)
    configs = [replace(bases[m], latent=z) for m, latents in LATENTS.items() for z in latents]
    if max_batches is None and engine.is_main and image_sets.shape(configs[0].data) is not None:
        reference(configs[0])  # computed once here, not by every run at the same time
    if engine.world_size > 1:
        dist.barrier()
    work = [Run(c, runs_dir / f"{c.model}-{c.latent}", assets, max_batches, resume)
            for c in configs]  # fmt: skip
    results = run_all(run_one, work, jobs, engine, "study", runs_dir / "results", resume)
    if results is not None:
        shutil.copytree(assets, out / "generative_study", dirs_exist_ok=True)
    return results


def plot(results: list[dict], path_: Path) -> None:
    """Loss per epoch: the VAEs' (left), the GANs' generator and discriminator (right)."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for ax, model in zip(axes, ("vae", "gan"), strict=True):
        for r in (r for r in results if r["model"] == model):
            epochs = [h["epoch"] for h in r["history"]]
            for key, style in (("loss", "-"), ("loss_discriminator", "--")):
                if key in r["history"][0]:
                    label = f"latent {r['latent']}" + (" (D)" if style == "--" else "")
                    ax.plot(epochs, [h[key] for h in r["history"]], style, marker=".", label=label)
        what = "VAE: BCE + KL per image" if model == "vae" else "DCGAN: G (solid), D (dashed)"
        ax.set(title=what, xlabel="epoch", ylabel="training loss")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path_, dpi=100)
    plt.close(fig)


def markdown(results: list[dict], command: str) -> str:
    lines = [
        "# The study's generative experiments",
        "",
        f"Command: `{command}`. Data: `{results[0]['config']['data']}` at "
        f"{results[0]['config']['size']}x{results[0]['config']['size']}. Fixed latents for the",
        "grids; the GAN rows slerp between the latents of seeds 1 and 2, the VAE rows run",
        "linearly between the encodings of two held-out images. Inception FID: "
        f"{FID_SAMPLES} samples against",
        "the whole faces set (Fashion-MNIST: its test set), lower is better; a card's FID takes",
        "10,000 samples, and fewer samples read higher, so compare these with each other only.",
        "Seconds: training time of the run, one thread, two runs side by side. The last grid of",
        "a VAE with a flow prior decodes the fixed latents through the flow (what it serves).",
        "",
        models_line(results),
        "",
        "| run | latent | epochs | seconds | final loss | Inception FID | first epoch |"
        " last epoch | interpolation |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        fid = "-" if r["inception_fid"] is None else f"{r['inception_fid']:.1f}"
        pictures = " | ".join(
            f"![](generative_study/{r['name']}-{kind}.png)"
            for kind in ("first", "last", "interpolation")
        )
        lines.append(
            f"| {r['model'].upper()} | {r['latent']} | {r['epochs']} | {r['seconds']:.0f} | "
            f"{r['history'][-1]['loss']:.3f} | {fid} | {pictures} |"
        )
    return "\n".join(lines) + "\n"


def models_line(results: list[dict]) -> str:
    """What the runs were: the settings every VAE and every GAN shared."""
    vae = next(r["config"] for r in results if r["model"] == "vae")
    gan = next(r["config"] for r in results if r["model"] == "gan")
    help_ = f"DiffAugment `{gan['diffaugment']}`" if gan["diffaugment"] else "no DiffAugment"
    prior = "N(0, I) prior"
    if vae["prior_epochs"]:
        prior = (
            f"a flow prior fitted to its codes after training (prior epochs: {vae['prior_epochs']})"
        )
    return (
        f"VAE: {vae['filters']} filters, beta {vae['beta']}, {prior}, batch "
        f"{vae['batch_size']}, lr {vae['lr']}. DCGAN: {gan['filters']} filters, batch "
        f"{gan['batch_size']}, lr {gan['lr']}, {help_}, samples from the averaged generator "
        f"(decay {gan['ema']})."
    )


def write_report(results: list[dict], out: Path, command: str) -> None:
    save_report(out, "generative_study", results, markdown(results, command), plot)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--vae-epochs", type=positive, default=60)
    parser.add_argument("--gan-epochs", type=positive, default=60)
    parser.add_argument(
        "--gan-diffaugment", type=policy, default="",
        help="the GANs' DiffAugment policy, as generative's --diffaugment (default: none)",
    )  # fmt: skip
    parser.add_argument("--data", default=FACES["data"], help="as for generative")
    parser.add_argument("--size", type=int, choices=SIZES, default=FACES["size"])
    parser.add_argument("--channels", type=int, choices=(1, 3), default=FACES["channels"])
    parser.add_argument(
        "--resume",
        action="store_true",
        help="reuse finished runs and continue unfinished ones (runs/study/)",
    )
    add_study_flags(parser, dry_run="2 epochs of 2 batches a run")


def run(args: argparse.Namespace, command: str) -> None:
    data = {"data": args.data, "size": args.size, "channels": args.channels}
    epochs = (2, 2) if args.dry_run else (args.vae_epochs, args.gan_epochs)
    bases = base_configs(*epochs, args.gan_diffaugment, **data)
    if args.dry_run:
        bases = {
            m: replace(c, filters=8, prior_epochs=min(c.prior_epochs, 1)) for m, c in bases.items()
        }
    out = out_dir(args, REPO / "reports", "generative-study")
    runs_dir = out / "runs" if args.dry_run else REPO / "runs" / "study"
    with Engine(runtime_from(args)) as engine:
        results = study(
            bases, out, runs_dir, args.jobs, engine, 2 if args.dry_run else None, args.resume
        )
    if results is not None:
        write_report(results, out, command)
        print(f"wrote {out}/generative_study.{{md,png,json}} and {out}/generative_study/")
