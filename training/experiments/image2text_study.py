"""The study's image comparison (its Figures 12-13, Tables 2-3), reproduced on handwritten strips.

Six runs on the same data pipeline and epochs: the study's two baselines (trained as the study did,
without weight decay), the classify-then-compute reference, ours, and two ablations of ours: no
augmentation, and its solver reading the CNN's features instead of the cells' symbol probabilities.
All see the same fresh training strips each epoch and are scored on the same held-out strips (MNIST
test digits, unseen operator family). Runs go side by side, one thread each.
"""

import argparse
from dataclasses import replace
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from training.engine import Engine  # noqa: E402
from training.experiments.reports import save_report  # noqa: E402
from training.experiments.runner import run_all  # noqa: E402
from training.launch import Launch  # noqa: E402
from training.models.seq2seq import count_parameters  # noqa: E402
from training.runtime import (  # noqa: E402
    DRY_RUN_BATCHES,
    REPO,
    add_study_flags,
    out_dir,
    positive,
    runtime_from,
)
from training.tasks.image2text import Config, dry_run, fit  # noqa: E402

RUNS = {
    "study: flattened cells + LSTM": Config(
        arch="study-flat", weight_decay=0.0, model={}, solver_epochs=0
    ),
    "study: conv + LSTM": Config(
        arch="study-convlstm", weight_decay=0.0, model={}, solver_epochs=0
    ),
    "classify then compute": Config(arch="cell-classifier", model={}, solver_epochs=0),
    "ours": Config(),
    "ours, no augmentation": Config(augment=False, variants=()),
    "ours, solver on CNN features": Config(model={"from_symbols": False}, solver_epochs=0),
}
STUDY = "about 0.55 on validation data after 200 epochs"


def run_one(job: tuple[str, Config, int | None], engine: Engine) -> dict:
    """One run of the comparison."""
    name, config, max_batches = job
    model, history, final = fit(config, Launch(engine, progress=False, max_batches=max_batches))
    return {
        "name": name,
        "parameters": count_parameters(model),
        "seconds": sum(h["seconds"] for h in history),
        "history": history,
        "final": final,
        "config": config.to_dict(),
    }


def compare(epochs: int, jobs: int, engine: Engine, dry: bool = False) -> list[dict] | None:
    """Every run of :data:`RUNS` for ``epochs`` (``dry``: as a --dry-run), each scored after
    every epoch, for the report's curves."""
    configs = [replace(c, epochs=epochs, eval_every=1) for c in RUNS.values()]
    if dry:
        configs = [dry_run(c) for c in configs]
    work = [(n, c, DRY_RUN_BATCHES if dry else None) for n, c in zip(RUNS, configs, strict=True)]
    return run_all(run_one, work, jobs, engine, "image2text report")


def plot(results: list[dict], path: Path) -> None:
    """Held-out answer (left) and expression (right) exact match by epoch; dashed: no augmenting."""
    fig, axes = plt.subplots(1, 2, figsize=(13, 5), sharey=True)
    for r, colour in zip(results, plt.rcParams["axes.prop_cycle"].by_key()["color"], strict=False):
        style = "-" if r["config"]["augment"] else "--"
        for ax, key in zip(axes, ("answer_exact_match", "expression_exact_match"), strict=True):
            points = [(h["epoch"], h[key]) for h in r["history"] if key in h]
            if points:
                ax.plot(
                    *zip(*points, strict=True), style, color=colour, marker=".", label=r["name"]
                )
    for ax, what in zip(axes, ("answer", "expression (all 5 cells)"), strict=True):
        ax.set(xlabel="epoch", ylabel=f"held-out {what} exact match", ylim=(-0.01, 1.01))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def table(results: list[dict], command: str) -> str:
    def cell(scores: dict, key: str) -> str:
        return f"{scores[key]:.4f}" if key in scores else "-"

    config = results[0]["config"]  # the same data for every run
    held_out, unseen = config["eval_strips"], config["unseen_strips"]
    kept_out = 1 - config["train_fraction"]
    lines = [
        "# Image-to-text: reading handwritten arithmetic strips",
        "",
        f"Regenerate: `{command}`. Every run trains on fresh strips each epoch (MNIST train",
        "digits, train-family operators, one strip per training query; distorted, except for",
        "`ours, no augmentation`) and is scored on the same",
        f"{held_out} held-out strips: MNIST *test* digits and operators of a family never trained",
        "on, half padded on the right, half on the left. Exact match = the whole answer (or all",
        "five cells) right. Answer symbol accuracy (the share of answer positions right) is the",
        f"study's metric: its baselines reached {STUDY}. `unseen queries`: {unseen} held-out",
        f"strips of the queries kept out of training ({kept_out:.0%} of the 20,000). Minutes:",
        "training time on one thread, evaluation excluded.",
        "",
        "| model | parameters | answer exact match | expression exact match "
        "| answer symbol accuracy | unseen queries: answer exact match | epochs | minutes |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        f = r["final"]
        lines.append(
            f"| {r['name']} | {r['parameters']:,} | {cell(f, 'answer_exact_match')} "
            f"| {cell(f, 'expression_exact_match')} | {cell(f, 'answer_symbol_accuracy')} "
            f"| {cell(f, 'unseen_queries_answer_exact_match')} | {r['config']['epochs']} "
            f"| {r['seconds'] / 60:.1f} |"
        )
    return "\n".join(lines) + "\n"


def write_report(results: list[dict], out: Path, command: str) -> None:
    save_report(out, "image2text", results, table(results, command), plot)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--epochs", type=positive, default=12, help="epochs of every run")
    add_study_flags(parser, dry_run="2 epochs of 2 batches per run")


def run(args: argparse.Namespace, command: str) -> None:
    out = out_dir(args, REPO / "reports", "image2text-report")
    with Engine(runtime_from(args)) as engine:
        results = compare(args.epochs, args.jobs, engine, args.dry_run)
    if results is not None:
        write_report(results, out, command)
        print(table(results, command))
        print(f"wrote {out}/image2text.md, .png, .json")
