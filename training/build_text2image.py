"""Train ours (speller + cell decoder), export `exported/text2image/`, grade it with the judge."""

import time
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from training import arithmetic as ar
from training import text2text
from training.cell_models import CELL, Renderer
from training.cells import CELL_SYMBOLS
from training.export import export_onnx, parity, training_record, write_card
from training.mnist import WHEEL, load_mnist
from training.seq2seq import count_parameters
from training.text2image import (
    OBJECTIVES,
    Config,
    Judge,
    answers_as_cells,
    grade_renders,
    spread,
)

SPELLER = text2text.Config(train_fraction=0.9, paddings=("right",), epochs=60)
GRADED_PAIRS = 4000  # random (query, seed) pairs the judge grades
DIVERSITY_QUERIES, DIVERSITY_SEEDS = 40, 16


def style(seeds: list[int], latent: int) -> np.ndarray:
    """The style latent of each seed, as the service draws it (numpy, no torch): ``[n, latent]``."""
    return np.stack([np.random.default_rng(s).standard_normal(latent, np.float32) for s in seeds])


@torch.no_grad()
def render(model: Renderer, queries: list[str], seeds: list[int], latent: int) -> np.ndarray:
    """Images ``[n, 28, 84]`` of ``queries`` (right-padded, as the service sends them)."""
    x = torch.from_numpy(ar.encode(queries, ar.QUERY_LEN, "right"))
    return model(x, torch.from_numpy(style(seeds, latent)))[0][:, 0].numpy()


def cells_of(images: np.ndarray) -> np.ndarray:
    """Images ``[n, 28, 84]`` as cells ``[n, 3, 28, 28]``."""
    return images.reshape(len(images), CELL, ar.ANSWER_LEN, CELL).transpose(0, 2, 1, 3)


def diversity(model: Renderer, latent: int, rng: np.random.Generator) -> dict[str, float]:
    """Per digit: spread of one query's cells over 16 seeds / spread of MNIST test digits.

    Cells of the same character at the same place of the same query differ only by the style
    latent; random MNIST test digits of that class differ by writer. A ratio near 1 means the
    seeds vary the handwriting about as much as different people do.
    """
    queries = [ar.all_queries()[i] for i in rng.choice(20_000, DIVERSITY_QUERIES, replace=False)]
    seeds = list(range(DIVERSITY_SEEDS))
    groups: dict[int, list[float]] = {d: [] for d in range(10)}
    for query in queries:
        cells = cells_of(render(model, [query] * len(seeds), seeds, latent))
        for place, symbol in enumerate(ar.answer(query)):
            if symbol.isdigit():
                groups[int(symbol)].append(spread(cells[:, place]))
    images, labels = load_mnist("test")
    ratios = {}
    for digit, spreads in groups.items():
        if spreads:
            pick = rng.choice(np.flatnonzero(labels == digit), 200, replace=False)
            ratios[CELL_SYMBOLS[digit]] = float(np.mean(spreads) / spread(images[pick] / 255))
    return {"diversity_ratio_min": min(ratios.values()), "diversity_ratio": ratios}


def nearest_train_distance(cells: np.ndarray, chunk: int = 500) -> np.ndarray:
    """Euclidean distance (pixels 0..1) from each cell to its nearest MNIST train image."""
    train = load_mnist("train")[0].reshape(60_000, -1).astype(np.float32) / 255
    norms = (train**2).sum(1)
    flat = cells.reshape(len(cells), -1).astype(np.float32)
    out = []
    for i in range(0, len(flat), chunk):
        part = flat[i : i + chunk]
        squared = (part**2).sum(1)[:, None] + norms[None] - 2 * part @ train.T
        out.append(np.sqrt(np.maximum(squared.min(1), 0)))
    return np.concatenate(out)


@lru_cache(maxsize=1)
def copy_threshold() -> float:
    """The smallest nearest-MNIST-train distance of any of the 10,000 MNIST test digits.

    No genuinely new handwriting lies closer to a training image than this, so a drawn digit that
    does would be a copy. (Computing it takes about half a minute: it is cached.)
    """
    test = load_mnist("test")[0].astype(np.float32) / 255
    return float(nearest_train_distance(test).min())


def copy_check(images: np.ndarray, queries: list[str]) -> dict[str, float]:
    """Nearest MNIST-train distance of the drawn digits, and the :func:`copy_threshold`."""
    truth = answers_as_cells(queries)
    digits = cells_of(images)[truth < 10]
    drawn = nearest_train_distance(digits)
    return {
        "copy_threshold": copy_threshold(),
        "nearest_train_distance_min": float(drawn.min()),
        "nearest_train_distance_median": float(np.median(drawn)),
        "digits_checked": len(digits),
    }


def grade(model: Renderer, latent: int, judge: Judge, held_out: list[str]) -> dict:
    """The judge's verdict on random (query, seed) pairs, over all queries and held-out ones."""
    rng = np.random.default_rng(12345)
    queries = [ar.all_queries()[i] for i in rng.integers(20_000, size=GRADED_PAIRS)]
    seeds = [int(s) for s in rng.integers(2**31, size=GRADED_PAIRS + len(held_out))]
    images = render(model, queries, seeds[:GRADED_PAIRS], latent)
    unseen = render(model, held_out, seeds[GRADED_PAIRS:], latent)
    return {
        **grade_renders(images, queries, judge),
        "graded_pairs": GRADED_PAIRS,
        **{f"held_out_queries_{k}": v for k, v in grade_renders(unseen, held_out, judge).items()},
        "held_out_queries": len(held_out),
        **diversity(model, latent, rng),
        **copy_check(images, queries),
    }


def build(config: Config, out: Path, command: str, max_batches: int | None = None) -> dict:
    judge = Judge()
    started = time.perf_counter()
    speller_config = SPELLER if max_batches is None else replace(SPELLER, epochs=1)
    speller, speller_history, speller_final = text2text.fit(speller_config, max_batches=max_batches)
    decoder, history = OBJECTIVES[config.objective](config, judge, max_batches=max_batches)
    seconds = time.perf_counter() - started
    model = Renderer(speller.eval(), decoder.eval()).eval()
    _, held_out = ar.split(ar.all_queries(), SPELLER.train_fraction, SPELLER.split_seed)
    examples = {
        "query": ar.encode(["81+24", "7-19", "0-99", "5+5"], ar.QUERY_LEN, "right"),
        "style": style([0, 1, 2, 3], config.latent),
    }
    export_onnx(model, {k: torch.from_numpy(v) for k, v in examples.items()}, out / "model.onnx",
                ["image", "cells"])  # fmt: skip
    card = {
        "task": "text2image",
        "description": (
            "Writes the answer of A+B or A-B (0 <= A, B <= 99) as handwriting: three 28x28 cells, "
            "left-aligned, unused cells blank, a minus glyph for negative answers."
        ),
        "symbols": ar.SYMBOLS,
        "cell_symbols": CELL_SYMBOLS,
        "query_length": ar.QUERY_LEN,
        "answer_length": ar.ANSWER_LEN,
        "padding": {"query": "right", "answer": "right"},
        "cell": {"height": CELL, "width": CELL, "cells": ar.ANSWER_LEN},
        "polarity": "light on dark",
        "style": {
            "latent": config.latent,
            "from_seed": "numpy.random.default_rng(seed).standard_normal(latent, dtype=float32)",
        },
        "pixels": "float32 in 0..1; image [batch, 1, 28, 84]",
        "readout": {"cells": "the class of each cell, an index into cell_symbols: what was drawn"},
        "architecture": f"attention speller + cell decoder trained as {config.objective}",
        "parameters": count_parameters(model),
        "dataset": {
            "speller": {
                "split": {
                    "train_fraction": SPELLER.train_fraction,
                    "seed": SPELLER.split_seed,
                    "held_out": len(held_out),
                    "held_out_sha256": ar.fingerprint(held_out),
                },
            },
            "cells": f"MNIST train (60,000) from {WHEEL}, {config.extra_cells} train-family minus "
            f"glyphs, {config.extra_cells} black blanks",
        },
        "training": {
            **training_record(command, config.to_dict(), seconds, history),
            "speller_config": speller_config.to_dict(),
            "speller_held_out": speller_final,
            "curve": history,
            "speller_curve_last": speller_history[-1],
        },
        "metrics": {
            **grade(model, config.latent, judge, held_out),
            "judge": "reports/judge (never used in training)",
            "onnx_parity_max_abs_diff": parity(model, out / "model.onnx", examples),
        },
    }
    return write_card(out, card)
