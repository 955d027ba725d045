"""The study's split sweep (its Figures 10-11): held-out exact match against the train share.

Every run gets the same number of optimiser steps, so small splits get more epochs; the epochs used
are written in the table. Curves are measured on a fixed sample of held-out queries per epoch, the
table's final figures on every held-out query. Runs go side by side, one thread each.
"""

import argparse
import math
from dataclasses import replace
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from training.data import arithmetic as ar  # noqa: E402
from training.engine import Engine  # noqa: E402
from training.experiments.reports import save_report  # noqa: E402
from training.experiments.runner import run_all  # noqa: E402
from training.launch import Launch  # noqa: E402
from training.runtime import REPO, add_study_flags, out_dir, runtime_from  # noqa: E402
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
    _, history, final = fit(config, Launch(engine, progress=False))
    return {
        "arch": config.arch,
        "train_fraction": config.train_fraction,
        "epochs": config.epochs,
        "history": history,
        "final": final,
        "config": config.to_dict(),
    }


def sweep(
    base: dict[str, Config], ratios: tuple[float, ...], steps: int, jobs: int, engine: Engine
) -> list[dict] | None:
    """Every run of the sweep (the results on rank 0; None on the other ranks)."""
    configs = []
    for r in ratios:
        for c in base.values():
            epochs = epochs_for(r, steps, c.batch_size, len(c.paddings))
            configs.append(
                replace(c, train_fraction=r, epochs=epochs, eval_every=max(1, epochs // 50))
            )
    return run_all(run_one, configs, jobs, engine, "split sweep")


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
            label=f"{r['arch']} {r['train_fraction']:.0%}",
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
        runs = sorted((r for r in results if r["arch"] == arch), key=lambda r: r["train_fraction"])
        finals.plot(
            [r["train_fraction"] for r in runs],
            [r["final"]["exact_match"] for r in runs],
            "o" + styles[arch],
            color="k",
            label=arch,
        )
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


def table(results: list[dict], steps: int) -> str:
    lines = [
        "# Split sweep: text-to-text arithmetic",
        "",
        f"Regenerate: `python -m training split-sweep --steps {steps}`. Each run: about {steps}",
        "optimiser steps on the right-, left- and middle-padded forms of its training queries.",
        "Exact match = the whole answer right, over every held-out query (never trained on),",
        "averaged over the three padded forms.",
        "",
        "| train share | held-out queries | study | "
        + " | ".join(f"{a} (epochs)" for a in sorted({r["arch"] for r in results}))
        + " |",
        "|---|---|---|" + "---|" * len({r["arch"] for r in results}),
    ]
    for ratio in sorted({r["train_fraction"] for r in results}):
        row = sorted((r for r in results if r["train_fraction"] == ratio), key=lambda r: r["arch"])
        held_out = len(ar.all_queries()) - round(ratio * len(ar.all_queries()))
        cells = " | ".join(f"{r['final']['exact_match']:.4f} ({r['epochs']})" for r in row)
        lines.append(f"| {ratio:.0%} | {held_out} | {STUDY.get(ratio, '-')} | {cells} |")
    return "\n".join(lines) + "\n"


def write_report(results: list[dict], out: Path, steps: int) -> None:
    save_report(out, "split_sweep", results, table(results, steps), plot)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ratios", type=float, nargs="+", default=None)
    parser.add_argument("--steps", type=int, default=10000, help="optimiser steps per run")
    add_study_flags(parser, dry_run="two ratios, 4 steps each")


def run(args: argparse.Namespace, command: str) -> None:
    ratios, steps = tuple(args.ratios or RATIOS), args.steps
    if args.dry_run:
        ratios, steps = ratios[:2], 4
    curve = 100 if args.dry_run else 2000
    base = {  # the study's model as it trained it (no weight decay), and ours with its defaults
        "baseline": Config(arch="baseline", weight_decay=0.0, curve_queries=curve),
        "attention": Config(arch="attention", curve_queries=curve),
    }
    out = out_dir(args, REPO / "reports", "split-sweep")
    with Engine(runtime_from(args)) as engine:
        results = sweep(base, ratios, steps, args.jobs, engine)
    if results is not None:
        write_report(results, out, steps)
        print(table(results, steps))
        print(f"wrote {out}/split_sweep.md, .png, .json")
