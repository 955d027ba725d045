"""The study's text-to-image comparison (its Table 4 and sample outputs), graded by the judge.

Three writers of the same answers: the study's baseline (query -> pixels, pixel loss) and ours with
its cell decoder trained as a conditional GAN or as a conditional VAE, the measurement that picks
the shipped objective. Ours share one speller. Parts train side by side, one thread each.
"""

import argparse
from dataclasses import replace
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from training.data import arithmetic as ar  # noqa: E402
from training.engine import Engine  # noqa: E402
from training.evaluation.glyph_judge import GlyphJudge, copy_check, grade_renders  # noqa: E402
from training.evaluation.writers import diversity, render, study_images  # noqa: E402
from training.experiments.reports import save_report  # noqa: E402
from training.experiments.runner import run_all  # noqa: E402
from training.launch import Launch  # noqa: E402
from training.models.cell_writers import Renderer  # noqa: E402
from training.models.seq2seq import count_parameters  # noqa: E402
from training.runtime import REPO, add_study_flags, out_dir, runtime_from  # noqa: E402
from training.tasks import text2text  # noqa: E402
from training.tasks.text2image import SPELLER  # noqa: E402
from training.tasks.writer_objectives import DEFAULTS, fit_writer  # noqa: E402

WRITERS = {
    "study: LSTM -> dense 784, pixel loss": DEFAULTS["study"],
    "ours: cell decoder as conditional GAN": DEFAULTS["gan"],
    "ours: cell decoder as conditional VAE": DEFAULTS["cvae"],
}
SAMPLE_QUERIES = ["81+24", "7-19", "0-99", "99+99", "45+5", "3-3", "12-70", "60+38"]
SAMPLE_SEEDS = [0, 1, 2]
GRADED = 4000


def train_part(job: tuple[str, object, int | None], engine: Engine) -> tuple[str, object, list]:
    """One part: the speller (``name == "speller"``) or a writer's decoder."""
    name, config, max_batches = job
    launch = Launch(engine, progress=False, max_batches=max_batches)
    if name == "speller":
        model, history, _ = text2text.fit(config, launch)
    else:
        model, history = fit_writer(config, GlyphJudge(), launch)
    return name, model, history


def compare(
    jobs: int, engine: Engine, max_batches: int | None = None, **changes
) -> list[dict] | None:
    """Train the speller and every writer, then grade each writer on the same pairs."""
    speller_config = SPELLER if max_batches is None else replace(SPELLER, epochs=1)
    parts = [("speller", speller_config, max_batches)] + [
        (name, replace(config, **changes), max_batches) for name, config in WRITERS.items()
    ]
    done = run_all(train_part, parts, jobs, engine, "text2image report")
    if done is None:
        return None
    trained = {name: (model, history) for name, model, history in done}
    speller = trained.pop("speller")[0].eval()
    judge, rng = GlyphJudge(), np.random.default_rng(2024)
    queries = ar.random_queries(rng, GRADED)
    seeds = [int(s) for s in rng.integers(2**31, size=GRADED)]
    results = []
    for name, (model, history) in trained.items():
        config = WRITERS[name]
        if config.objective == "study":
            images = study_images(model, queries)
            samples = study_images(model, SAMPLE_QUERIES)
            extra = {}
            parameters = count_parameters(model)
        else:
            writer = Renderer(speller, model).eval()
            images = render(writer, queries, seeds, config.latent)
            samples = np.concatenate(
                [render(writer, SAMPLE_QUERIES, [s] * len(SAMPLE_QUERIES), config.latent)
                 for s in SAMPLE_SEEDS]
            )  # fmt: skip
            extra = diversity(writer, config.latent, np.random.default_rng(0))
            parameters = count_parameters(writer)
        results.append({
            "name": name,
            "parameters": parameters,
            "config": config.to_dict(),
            "history": history,
            "scores": {
                **grade_renders(images, queries, judge), **extra, **copy_check(images, queries)
            },
            "samples": samples.round(3).tolist(),
        })  # fmt: skip
    return results


def plot(results: list[dict], path: Path) -> None:
    """Sample answers: one row per writer and seed, one column per query."""
    rows = [(r["config"]["objective"], np.asarray(r["samples"])) for r in results]
    height = sum(len(s) // len(SAMPLE_QUERIES) for _, s in rows)
    fig, axes = plt.subplots(
        height, len(SAMPLE_QUERIES), figsize=(2 * len(SAMPLE_QUERIES), 0.9 * height)
    )
    row = 0
    for label, samples in rows:
        for block in range(len(samples) // len(SAMPLE_QUERIES)):
            for col, query in enumerate(SAMPLE_QUERIES):
                ax = axes[row, col]
                ax.imshow(samples[block * len(SAMPLE_QUERIES) + col], cmap="gray", vmin=0, vmax=1)
                ax.set_xticks([])
                ax.set_yticks([])
                if row == 0:
                    ax.set_title(f"{query} = {ar.answer(query)}", fontsize=9)
            axes[row, 0].set_ylabel(f"{label} seed {SAMPLE_SEEDS[block]}", fontsize=7)
            row += 1
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def table(results: list[dict], command: str) -> str:
    lines = [
        "# Text-to-image: writing the answer in handwriting",
        "",
        f"Regenerate: `{command}`. Each writer draws the answers of the same {GRADED} random",
        "(query, seed) pairs; the judge (`reports/judge`, trained on MNIST alone and never used by",
        "a writer) reads every cell. Characters: cells of the answer judged the right symbol;",
        "answers: all three cells right; blanks: unused cells judged blank. Diversity: for one",
        "query, 16 seeds' drawings of the same digit, mean pairwise distance over that of random",
        "MNIST test digits of the class (worst digit). Copies: nearest MNIST-train distance of the",
        "drawn digits; the threshold is the smallest such distance of any real MNIST test digit.",
        "",
        "| writer | parameters | characters | answers | blanks | diversity (min) "
        "| nearest train (min / median) | copy threshold |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        s = r["scores"]
        diversity_cell = f"{s['diversity_ratio_min']:.2f}" if "diversity_ratio_min" in s else "-"
        lines.append(
            f"| {r['name']} | {r['parameters']:,} | {s['character_accuracy']:.4f} "
            f"| {s['answer_exact_match']:.4f} | {s['unused_cells_blank']:.4f} | {diversity_cell} "
            f"| {s['nearest_train_distance_min']:.2f} / {s['nearest_train_distance_median']:.2f} "
            f"| {s['copy_threshold']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def write_report(results: list[dict], out: Path, command: str) -> None:
    save_report(out, "text2image", results, table(results, command), plot)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_study_flags(parser, dry_run="1 epoch of 2 batches per part")


def run(args: argparse.Namespace, command: str) -> None:
    out = out_dir(args, REPO / "reports", "text2image-report")
    changes = {"epochs": 1} if args.dry_run else {}
    with Engine(runtime_from(args)) as engine:
        results = compare(args.jobs, engine, 2 if args.dry_run else None, **changes)
    if results is not None:
        write_report(results, out, command)
        print(table(results, command))
        print(f"wrote {out}/text2image.md, .png, .json")
