"""The study's split sweep (its Figures 10-11): held-out exact match against the train share.

Every run of a model gets the same number of optimiser steps, so small splits get more epochs; the
epochs used are written in the table. Each share is run with several seeds, each drawing its own
split and initial weights, so the table gives the mean and spread over both. Curves are measured
on a fixed sample of held-out queries per epoch, the table's final figures on every held-out
query. Runs go side by side, one thread each, and each finished run is kept under
``runs/split-sweep/`` so ``--resume`` carries on an interrupted sweep.
"""

import argparse
import math
from dataclasses import replace
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from training.data import arithmetic as ar  # noqa: E402
from training.engine import Engine  # noqa: E402
from training.experiments.reports import save_report  # noqa: E402
from training.experiments.runner import run_all  # noqa: E402
from training.launch import Launch, timed  # noqa: E402
from training.runtime import (  # noqa: E402
    REPO,
    add_study_flags,
    bounded,
    dry_run_folder,
    out_dir,
    positive,
    runtime_from,
)
from training.tasks.text2text import Config, fit  # noqa: E402

RATIOS = (0.05, 0.10, 0.25, 0.50, 0.75, 0.90)
STUDY = {
    0.05: 0.54,
    0.25: 0.96,
    0.50: 0.99,
    0.75: 0.99,
    0.90: 0.99,
}  # read off the study's Figure 11


def epochs_for(fraction: float, steps: int, batch_size: int, paddings: int) -> int:
    """Epochs that give about ``steps`` optimiser steps on this split."""
    per_epoch = math.ceil(round(fraction * len(ar.all_queries())) * paddings / batch_size)
    return max(1, math.ceil(steps / per_epoch))


def run_one(config: Config, engine: Engine) -> dict:
    """One point of the sweep."""
    (_, history, final), seconds = timed(lambda: fit(config, Launch(engine, progress=False)))
    return {
        "arch": config.arch,
        "train_fraction": config.train_fraction,
        "seed": config.seed,
        "epochs": config.epochs,
        "seconds": seconds,
        "history": history,
        "final": final,
        "config": config.to_dict(),
    }


def sweep(
    base: dict[str, tuple[Config, int]],
    ratios: tuple[float, ...],
    seeds: int,
    jobs: int,
    engine: Engine,
    keep: Path,
    reuse: bool,
) -> list[dict] | None:
    """Every run of the sweep (the results on rank 0; None on the other ranks). ``base`` holds
    each model's config and optimiser steps per run."""
    configs = []
    for r in ratios:
        for c, steps in base.values():
            epochs = epochs_for(r, steps, c.batch_size, len(c.paddings))
            every = max(1, epochs // 50)
            for seed in range(seeds):
                configs.append(
                    replace(
                        c, train_fraction=r, epochs=epochs, eval_every=every, seed=seed,
                        split_seed=seed,
                    )
                )  # fmt: skip
    # the study's model is the slowest per step: its runs first, so the pool ends on short ones
    configs.sort(key=lambda c: c.arch != "baseline")
    return run_all(run_one, configs, jobs, engine, "split sweep", keep, reuse)


def spread(results: list[dict], arch: str, ratio: float) -> tuple[float, float, float, float]:
    """Mean, standard deviation, lowest and highest final exact match of one share's seeds."""
    scores = [
        r["final"]["exact_match"]
        for r in results
        if r["arch"] == arch and r["train_fraction"] == ratio
    ]
    return float(np.mean(scores)), float(np.std(scores)), min(scores), max(scores)


def plot(results: list[dict], path: Path) -> None:
    """Left: held-out exact match per epoch for every run. Right: final exact match per ratio."""
    fig, (curves, finals) = plt.subplots(1, 2, figsize=(13, 5))
    archs = sorted({r["arch"] for r in results})
    styles = dict(zip(archs, ["--", "-", ":"], strict=False))
    ratios = sorted({r["train_fraction"] for r in results})
    colours = dict(
        zip(ratios, plt.cm.viridis([i / len(ratios) for i in range(len(ratios))]), strict=True)
    )
    for r in results:
        points = [(h["epoch"], h["exact_match"]) for h in r["history"] if "exact_match" in h]
        curves.plot(
            *zip(*points, strict=True),
            styles[r["arch"]],
            color=colours[r["train_fraction"]],
            label=f"{r['arch']} {r['train_fraction']:.0%}" if r["seed"] == 0 else None,
        )
    curve_size = results[0]["config"]["curve_queries"]
    curves.set(
        xscale="log",
        xlabel="epoch",
        ylim=(0, 1),
        ylabel=f"exact match on {curve_size or 'all'} held-out queries",
    )
    curves.legend(fontsize=7, ncol=2)
    for arch in archs:
        stats = [spread(results, arch, ratio) for ratio in ratios]
        means = [m for m, *_ in stats]
        below = [m - low for m, _, low, _ in stats]
        above = [high - m for m, _, _, high in stats]
        finals.errorbar(
            ratios, means, yerr=[below, above], fmt="o" + styles[arch], color="k", capsize=3,
            label=f"{arch} (mean, bars: lowest to highest seed)",
        )  # fmt: skip
    finals.plot(list(STUDY), list(STUDY.values()), "r^", label="study (Fig. 11)")
    finals.set(
        xlabel="share of the 20,000 queries trained on",
        ylabel="exact match on every held-out query",
        ylim=(0, 1.01),
    )
    finals.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def table(results: list[dict], steps: dict[str, int], seeds: int, command: str) -> str:
    archs = sorted({r["arch"] for r in results})
    minutes = {a: np.mean([r["seconds"] for r in results if r["arch"] == a]) / 60 for a in archs}
    lines = [
        "# Split sweep: text-to-text arithmetic",
        "",
        f"Regenerate: `{command}`. Each run trains on the right-, left- and middle-padded forms",
        "of its training queries for about "
        + ", ".join(f"{n} optimiser steps ({a})" for a, n in steps.items())
        + f"; {seeds} runs per share and model, seed s drawing split s and initial weights s.",
        "Exact match = the whole answer right, over every held-out query (never trained on),",
        "averaged over the three padded forms; mean ± standard deviation over the seeds, lowest",
        "and highest in brackets. Minutes per run (one thread each, side by side): "
        + ", ".join(f"{a} {minutes[a]:.1f}" for a in archs)
        + ".",
        "",
        "| train share | held-out queries | epochs ("
        + "/".join(archs)
        + ") | study | "
        + " | ".join(archs)
        + " |",
        "|---|---|---|---|" + "---|" * len(archs),
    ]
    for ratio in sorted({r["train_fraction"] for r in results}):
        held_out = len(ar.all_queries()) - round(ratio * len(ar.all_queries()))
        epochs = "/".join(
            str(
                next(r["epochs"] for r in results if (r["train_fraction"], r["arch"]) == (ratio, a))
            )
            for a in archs
        )
        cells = []
        for arch in archs:
            mean, sd, low, high = spread(results, arch, ratio)
            cells.append(f"{mean:.4f} ± {sd:.4f} ({low:.4f}–{high:.4f})")
        lines.append(
            f"| {ratio:.0%} | {held_out} | {epochs} | {STUDY.get(ratio, '-')} | "
            + " | ".join(cells)
            + " |"
        )
    return "\n".join(lines) + "\n"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ratios", type=bounded(0.01, 0.99, float), nargs="+", default=None)
    parser.add_argument(
        "--steps", type=positive, default=60000, help="optimiser steps per run of ours"
    )
    parser.add_argument(
        "--study-steps",
        type=positive,
        default=10000,
        help="optimiser steps per run of the study's model (about 4x slower per step than ours)",
    )
    parser.add_argument("--seeds", type=positive, default=3, help="runs per share and model")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="reuse the runs an interrupted sweep finished (kept in runs/split-sweep/)",
    )
    add_study_flags(parser, dry_run="two ratios, two seeds, 4 steps each")


def run(args: argparse.Namespace, command: str) -> None:
    ratios, seeds = tuple(args.ratios or RATIOS), args.seeds
    steps = {"baseline": args.study_steps, Config.arch: args.steps}
    if args.dry_run:
        ratios, seeds, steps = ratios[:2], min(seeds, 2), dict.fromkeys(steps, 4)
    curve = 100 if args.dry_run else 2000
    base = {  # the study's model as it trained it (no weight decay), and ours with its defaults
        "baseline": Config(arch="baseline", weight_decay=0.0, curve_queries=curve),
        Config.arch: Config(curve_queries=curve),
    }
    out = out_dir(args, REPO / "reports", "split-sweep")
    keep = dry_run_folder("split-sweep") if args.dry_run else REPO / "runs" / "split-sweep"
    with Engine(runtime_from(args)) as engine:
        configs = {name: (base[name], steps[name]) for name in base}
        results = sweep(configs, ratios, seeds, args.jobs, engine, keep, args.resume)
    if results is not None:
        report = table(results, steps, seeds, command)
        save_report(out, "split_sweep", results, report, plot)
        print(report)
        print(f"wrote {out}/split_sweep.md, .png, .json")
