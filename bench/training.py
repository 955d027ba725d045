"""What the training engine costs, and what workers and processes buy, measured side by side.

`python -m bench.training` prints three tables (and writes them to `--out`, default
`bench/training.md`), every figure from this one run:

1. **Engine vs bare loop**, samples/s, for text2text, image2text, the VAE and the GAN (the shipped
   configurations). Both train the same model with the same optimiser, schedule, batch and
   pre-made batches; the bare loop is a plain ``for`` over the tensors calling the task's own step
   with ``zero_grad / backward / step``; the engine adds its DataLoader, device moves, precision
   context, per-epoch seeding and loss bookkeeping. Rounds alternate, the best of each is kept.
2. **DataLoader workers 0 vs 2** on image2text, strips drawn and distorted as in training.
3. **One process vs `torchrun --nproc-per-node 2`** (one thread each) on the DCGAN at 64x64 RGB
   (64 filters), plus one process with two threads: global samples/s from each run's epoch time.
4. **Memory layout**, `--channels-last` or not, on the Fashion-MNIST GAN with a 3x3 conv at each
   scale of the discriminator, in bf16, batches of 128 (the recipe after the shipped one's).
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import TensorDataset

from training.engine import Engine
from training.runtime import Runtime
from training.task import Task
from training.tasks import generative_tasks, image2text, text2text

REPO = Path(__file__).resolve().parent.parent


def premade(task: Task, steps: int) -> list[tuple[torch.Tensor, ...]]:
    """The first ``steps`` batches of the task's data, made once, as tensors."""
    loader = Engine.local().loader(task)
    loader.sampler.set_epoch(1)
    batches = []
    for batch in loader:
        batches.append(tuple(batch) if isinstance(batch, list | tuple) else (batch,))
        if len(batches) == steps:
            return batches
    return batches


def bare_loop(task: Task, batches: list[tuple[torch.Tensor, ...]]) -> float:
    """Samples/s of a plain loop over the batches with the task's model, optimiser and step."""
    torch.manual_seed(task.seed)
    task.models = task.build()
    optimizers = task.optimizers()
    task.trained = tuple(optimizers)
    schedules = {}
    for name, optimizer in optimizers.items():
        make = task.schedule(name)
        if make is not None:
            schedules[name] = make(optimizer, len(batches), 1, -1)

    def update(name: str, loss: torch.Tensor) -> float:
        optimizers[name].zero_grad(set_to_none=True)
        loss.backward()
        optimizers[name].step()
        if name in schedules:
            schedules[name].step()
        return loss.item()

    for model in task.models.values():
        model.train()
    started = time.perf_counter()
    for batch in batches:
        task.step(task.models, batch, update)
        task.after_step()
    return sum(len(b[0]) for b in batches) / (time.perf_counter() - started)


def engine_loop(task: Task, batches: list[tuple[torch.Tensor, ...]]) -> float:
    """Samples/s of the engine on the same batches (as a dataset, in order of the sampler)."""
    task.dataset = lambda: TensorDataset(
        *(torch.cat(parts) for parts in zip(*batches, strict=True))
    )
    task.evaluate, task.epochs = dict, 1
    history = Engine.local().fit(task, progress=False, max_batches=len(batches))
    return sum(len(b[0]) for b in batches) / history[-1]["seconds"]


def engine_vs_bare(rounds: int, steps: int) -> list[dict]:
    tasks: dict[str, Callable[[], Task]] = {
        "text2text": lambda: text2text.Text2Text(text2text.Config()),
        "image2text": lambda: image2text.Image2Text(
            image2text.Config(eval_strips=2, unseen_strips=2)
        ),
        "vae": lambda: generative_tasks.VAETask(generative_tasks.Config(model="vae", beta=0.25)),
        "gan": lambda: generative_tasks.GANTask(
            generative_tasks.Config(model="gan", latent=64, filters=64, lr=2e-4)
        ),
    }
    rows = []
    for name, make in tasks.items():
        batches = premade(make(), steps)
        bare, engine = [], []
        for _ in range(rounds):
            bare.append(bare_loop(make(), batches))
            engine.append(engine_loop(make(), batches))
        rows.append({"model": name, "batch": len(batches[0][0]), "bare": max(bare),
                     "engine": max(engine), "ratio": max(engine) / max(bare)})  # fmt: skip
        print(f"  {name}: bare {max(bare):.0f}/s, engine {max(engine):.0f}/s", flush=True)
    return rows


def one_epoch(task: Task, runtime: Runtime, steps: int) -> float:
    """Samples/s of the engine training ``task`` for ``steps`` steps under ``runtime``."""
    task.evaluate, task.epochs = dict, 1
    history = Engine.local(runtime).fit(task, progress=False, max_batches=steps)
    return steps * task.batch_size / history[-1]["seconds"]


def workers(rounds: int, steps: int) -> list[dict]:
    rows = []
    for count in (0, 2):
        rates = []
        for _ in range(rounds):
            task = image2text.Image2Text(
                image2text.Config(eval_strips=2, unseen_strips=2), max_batches=steps
            )
            rates.append(one_epoch(task, Runtime(device="cpu", workers=count), steps))
        rows.append({"workers": count, "samples_per_second": max(rates)})
        print(f"  workers {count}: {max(rates):.0f}/s", flush=True)
    return rows


def layouts(rounds: int, steps: int) -> list[dict]:
    config = generative_tasks.Config(model="gan", latent=64, filters=64, discriminator_depth=1,
                                     lr=2e-4, batch_size=128)  # fmt: skip
    rates: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(rounds):
        for channels_last, measured in rates.items():
            runtime = Runtime(device="cpu", precision="bf16", channels_last=channels_last)
            measured.append(one_epoch(generative_tasks.GANTask(config), runtime, steps))
    rows = [{"layout": "channels-last (NHWC)" if last else "default (NCHW)",
             "samples_per_second": max(measured)} for last, measured in rates.items()]  # fmt: skip
    for row in rows:
        print(f"  {row['layout']}: {row['samples_per_second']:.0f}/s", flush=True)
    return rows


def processes(images: int) -> list[dict]:
    """The DCGAN at 64x64 RGB on ``images`` random pictures: the model's cost is the same."""
    folder = Path(tempfile.mkdtemp(prefix="genseq-bench-training-"))
    data = folder / "images.npy"
    np.save(data, np.random.default_rng(0).integers(0, 256, (images, 64, 64, 3), dtype=np.uint8))
    flags = [
        *("generative", "--model", "gan", "--data", str(data), "--size", "64", "--channels", "3"),
        *("--filters", "64", "--latent", "100", "--lr", "0.0002", "--epochs", "1"),
    ]
    launches = {
        "1 process x 1 thread": ([sys.executable, "-m", "training"], "1"),
        "1 process x 2 threads": ([sys.executable, "-m", "training"], "2"),
        "torchrun 2 processes x 1 thread": (
            [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
             "-m", "training"], "1"),
    }  # fmt: skip
    rows = []
    for name, (launcher, threads) in launches.items():
        out = folder / name.replace(" ", "-")
        env = {**os.environ, "OMP_NUM_THREADS": threads}
        subprocess.run([*launcher, *flags, "--out", str(out)], cwd=REPO, env=env, check=True,
                       capture_output=True)  # fmt: skip
        seconds = torch.load(out / "checkpoint.pt", weights_only=True)["history"][-1]["seconds"]
        steps = images // 64
        rows.append(
            {"launch": name, "seconds": seconds, "samples_per_second": steps * 64 / seconds}
        )
        print(f"  {name}: {rows[-1]['samples_per_second']:.1f}/s", flush=True)
    return rows


def markdown(
    speed: list[dict], loaders: list[dict], launches: list[dict], memory: list[dict], command: str
) -> str:
    lines = [
        "# Training engine benchmark",
        "",
        f"`{command}`, on this machine (2 cores, CPU), every figure from this one run.",
        "",
        "| model | batch | bare loop (samples/s) | engine (samples/s) | engine / bare |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {r['model']} | {r['batch']} | {r['bare']:.0f} | {r['engine']:.0f} | "
              f"{r['ratio']:.3f} |" for r in speed]  # fmt: skip
    zero = loaders[0]["samples_per_second"]
    lines += ["", "| image2text, DataLoader workers | samples/s | vs 0 |", "|---|---|---|"]
    lines += [f"| {r['workers']} | {r['samples_per_second']:.0f} | "
              f"{r['samples_per_second'] / zero:.2f}x |" for r in loaders]  # fmt: skip
    first = launches[0]["samples_per_second"]
    lines += ["", "| DCGAN 64x64 RGB, 64 filters | epoch seconds | samples/s | vs 1 x 1 |",
              "|---|---|---|---|"]  # fmt: skip
    lines += [f"| {r['launch']} | {r['seconds']:.1f} | {r['samples_per_second']:.1f} | "
              f"{r['samples_per_second'] / first:.2f}x |" for r in launches]  # fmt: skip
    nchw = memory[0]["samples_per_second"]
    lines += ["", "| GAN, deeper discriminator, bf16, batch 128 | samples/s | vs NCHW |",
              "|---|---|---|"]  # fmt: skip
    lines += [f"| {r['layout']} | {r['samples_per_second']:.0f} | "
              f"{r['samples_per_second'] / nchw:.2f}x |" for r in memory]  # fmt: skip
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.training",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds, best kept")
    parser.add_argument("--steps", type=int, default=40, help="optimiser steps a measurement")
    parser.add_argument("--images", type=int, default=1024, help="64x64 images for processes")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "training.md")
    args = parser.parse_args(argv)
    command = "python -m bench.training " + " ".join(argv if argv is not None else sys.argv[1:])
    print("engine vs bare loop", flush=True)
    speed = engine_vs_bare(args.rounds, args.steps)
    print("DataLoader workers", flush=True)
    loaders = workers(args.rounds, args.steps)
    print("processes", flush=True)
    launches = processes(args.images)
    print("memory layout", flush=True)
    memory = layouts(args.rounds, args.steps)
    report = markdown(speed, loaders, launches, memory, command.strip())
    args.out.write_text(report)
    print(report)


if __name__ == "__main__":
    main()
