"""`python -m training text2image`: the speller and a cell writer trained, composed, exported.

The speller is the text model, trained on a split of the queries; the writer learns under one of
the objectives of :mod:`training.tasks.writer_objectives`. Every score comes from the glyph judge
(:mod:`training.evaluation.glyph_judge`), which neither trains on.
"""

import argparse
import time
from dataclasses import replace
from pathlib import Path

import torch

from training.data import arithmetic as ar
from training.data.cells import CELL_SYMBOLS
from training.data.mnist import WHEEL
from training.evaluation.glyph_judge import GlyphJudge
from training.evaluation.writers import grade, style
from training.export import export_onnx, parity, training_record, write_card
from training.launch import Launch, launch_for
from training.models.cell_writers import CELL, Renderer
from training.models.seq2seq import count_parameters
from training.runtime import REPO, add_out_flag, add_run_flags, out_dir, positive, run_dir
from training.tasks import text2text
from training.tasks.writer_objectives import DEFAULTS, Config, fit_writer

SPELLER = text2text.Config(train_fraction=0.9, paddings=("right",), epochs=60)


def build(config: Config, out: Path, command: str, launch: Launch) -> dict:
    """Train the speller and the cell decoder, export them composed, grade them (rank 0)."""
    judge = GlyphJudge()
    started = time.perf_counter()
    dry = launch.max_batches is not None
    speller_config = replace(SPELLER, epochs=1) if dry else SPELLER
    speller, speller_history, speller_final = text2text.fit(speller_config, launch.part("speller"))
    decoder, history = fit_writer(config, judge, launch.part("writer"))
    seconds = time.perf_counter() - started
    if not launch.engine.is_main:
        return {}
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
            **training_record(command, config.to_dict(), seconds, history, launch.engine),
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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--objective", choices=["gan", "cvae"], default="gan")
    parser.add_argument(
        "--epochs", type=positive, help="default: the objective's own (see DEFAULTS)"
    )
    add_out_flag(parser, "exported/text2image")
    add_run_flags(parser, dry_run="1 epoch of 2 batches for each part")


def run(args: argparse.Namespace, command: str) -> None:
    config = DEFAULTS[args.objective]
    if args.dry_run or args.epochs:
        config = replace(config, epochs=1 if args.dry_run else args.epochs)
    out = out_dir(args, REPO / "exported" / "text2image", "text2image")
    with launch_for(args, run_dir(args, "text2image")) as launch:
        card = build(config, out, command, launch)
    if card:
        judged = card["metrics"]
        print(
            f"exported {out}: judged characters {judged['character_accuracy']:.4f}, "
            f"answers {judged['answer_exact_match']:.4f}, blanks {judged['unused_cells_blank']:.4f}"
        )
