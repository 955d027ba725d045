"""Where and how a training command runs: the flags every command takes, with one meaning.

This module imports no torch, so ``python -m training --help`` stays instant; the engine
(:mod:`training.engine`) turns a :class:`Runtime` into a device, a precision and processes.
"""

import argparse
import math
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

PRECISIONS = ("32", "bf16", "fp16")


@dataclass(frozen=True)
class Runtime:
    """The runtime flags: none of them changes what a model learns, only where and how fast."""

    device: str = "auto"  # auto (cuda, then mps, then cpu), cpu, cuda, cuda:N, mps
    precision: str = "32"  # 32, or autocast to bf16 / fp16 (fp16 with a gradient scaler)
    workers: int = 0  # DataLoader worker processes
    compile: bool = False  # torch.compile the networks being trained
    channels_last: bool = False  # convolutions' weights, so their activations, in NHWC order

    def to_dict(self) -> dict:
        return {"device": self.device, "precision": self.precision, "workers": self.workers,
                "compile": self.compile, "channels_last": self.channels_last}  # fmt: skip


def bounded(minimum: float, maximum: float | None = None, kind: type = int) -> Callable:
    """An argparse type: a number of ``kind`` from ``minimum`` to ``maximum`` (if given)."""

    def parse(text: str) -> float:
        value = kind(text)
        if not minimum <= value <= (math.inf if maximum is None else maximum):
            bounds = f"{minimum} or more" if maximum is None else f"{minimum} to {maximum}"
            raise argparse.ArgumentTypeError(f"must be {bounds}, not {value}")
        return value

    parse.__name__ = kind.__name__  # argparse names it in "invalid int value: 'x'"
    return parse


def exported_model(text: str) -> Path:
    """An argparse type: a folder that ``--export`` wrote (it has a card.json)."""
    folder = Path(text)
    if not (folder / "card.json").is_file():
        raise argparse.ArgumentTypeError(f"{folder} has no card.json (an exported model's folder)")
    return folder


workers = bounded(0)
positive = bounded(1)
# What a config's numbers may be, when not >= 1 (whole numbers) or >= 0 (fractions).
FLAG_BOUNDS = {
    "seed": (0, None),
    "prior_epochs": (0, None),  # 0: no latent prior
    "depth": (0, None),
    "generator_filters": (0, None),  # 0: the same as --filters
    "discriminator_depth": (0, None),
    "ema": (0, 0.99999),  # 0: off; 1 would never move
    "train_fraction": (0.01, 0.99),  # some queries must stay held out
}


def add_runtime_flags(parser: argparse.ArgumentParser) -> None:
    """The same four flags on every training command."""
    group = parser.add_argument_group("where and how to run (the same on every command)")
    group.add_argument(
        "--device",
        default=Runtime.device,
        help="auto (cuda, then mps, then cpu), cpu, cuda, cuda:N or mps; under torchrun, "
        "cuda means each process's own cuda:LOCAL_RANK",
    )
    group.add_argument(
        "--precision",
        choices=PRECISIONS,
        default=Runtime.precision,
        help="32-bit floats, or mixed precision by autocast (fp16 adds a gradient scaler)",
    )
    group.add_argument(
        "--workers",
        type=workers,
        default=Runtime.workers,
        help="DataLoader worker processes (0: batches are made in the training process); "
        "every random draw is seeded per sample, so the result does not depend on it",
    )
    group.add_argument(
        "--compile", action="store_true", help="torch.compile the networks being trained"
    )
    group.add_argument(
        "--channels-last",
        action="store_true",
        help="convolutions in channels-last (NHWC) memory order, which oneDNN and tensor cores "
        "run faster; no effect on networks without them",
    )


def runtime_from(args: argparse.Namespace) -> Runtime:
    return Runtime(args.device, args.precision, args.workers, args.compile, args.channels_last)


DRY_RUN_BATCHES = 2  # batches an epoch of a --dry-run
FLAG_HELP = {
    "batch_size": "per process: the global batch is this x the number of processes",
    "train_fraction": "the share of the 20,000 queries trained on",
    "depth": "3x3 convs at each scale of the VAE's decoder or the GAN's generator",
    "generator_filters": "GAN: the generator's filters, if not --filters' (0: --filters')",
    "discriminator_depth": "GAN: 3x3 convs at each scale of the discriminator",
    "lr_discriminator": "GAN: the discriminator's learning rate, if not --lr's (0: --lr's)",
    "consistency": "GAN: weight of bCR, the discriminator's penalty for scoring a flipped, shifted "
    "image unlike the image (Zhao et al. 2020 use 10; 0: off)",
}


def add_config_flags(parser: argparse.ArgumentParser, defaults: object, *names: str) -> None:
    """``--name`` for each field of a config dataclass, its default and type from ``defaults``."""
    for name in names:
        default = getattr(defaults, name)
        kind = int if default is None else type(default)
        low, high = FLAG_BOUNDS.get(name, (1 if kind is int else 0, None))
        parser.add_argument(f"--{name.replace('_', '-')}", type=bounded(low, high, kind),
                            default=default, help=FLAG_HELP.get(name))  # fmt: skip


def config_from(args: argparse.Namespace, config_class: type) -> object:
    """The config dataclass with every field that the command line has a flag for."""
    fields = config_class.__dataclass_fields__
    return config_class(**{f: getattr(args, f) for f in fields if hasattr(args, f)})


def add_out_flag(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument(
        "--out", type=Path, help=f"default: {default} (a temp folder with --dry-run)"
    )


def add_run_flags(parser: argparse.ArgumentParser, dry_run: str) -> None:
    """``--dry-run``, the run's folder and ``--resume``, then the runtime flags."""
    parser.add_argument("--dry-run", action="store_true", help=dry_run)
    parser.add_argument(
        "--run-dir",
        type=Path,
        help="checkpoints and TensorBoard events; default runs/<command> (a temp folder with "
        "--dry-run)",
    )
    parser.add_argument(
        "--resume", action="store_true", help="continue from the checkpoint in --run-dir"
    )
    add_runtime_flags(parser)


def add_study_flags(parser: argparse.ArgumentParser, dry_run: str) -> None:
    """The flags of a study (many runs, one report under ``reports/``), then the runtime flags."""
    parser.add_argument("--jobs", type=int, default=2, help="runs side by side, one thread each")
    add_out_flag(parser, "reports/")
    parser.add_argument("--dry-run", action="store_true", help=dry_run)
    add_runtime_flags(parser)


def dry_run_folder(name: str) -> Path:
    """A fresh temporary folder for what a ``--dry-run`` writes; under torchrun, the same one
    in every process of the run (named by torchrun's run id)."""
    run_id = os.environ.get("TORCHELASTIC_RUN_ID")
    if run_id is None:
        return Path(tempfile.mkdtemp(prefix="genseq-dry-run-")) / name
    agent = os.getppid()  # torchrun's agent: the parent of every local process
    return Path(tempfile.gettempdir()) / f"genseq-dry-run-{run_id}-{agent}" / name


def run_dir(args: argparse.Namespace, name: str) -> Path:
    """The run's folder: ``--run-dir``, else ``runs/<name>``, or a temp folder for a dry run."""
    if args.run_dir is not None:
        return args.run_dir
    return dry_run_folder(name) / "run" if args.dry_run else REPO / "runs" / name


def out_dir(args: argparse.Namespace, default: Path, name: str) -> Path:
    """Where a command writes its result: ``--out``, else ``default``, or a temp folder."""
    if args.out is not None:
        return args.out
    return dry_run_folder(name) if args.dry_run else default
