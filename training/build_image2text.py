"""Train ours (``strip_models.Ours``) and write ``exported/image2text/`` (ONNX + card)."""

import hashlib
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from training import arithmetic as ar
from training import glyphs, mnist
from training.export import export_onnx, parity, training_record, write_card
from training.image2text import Config, draw, evaluation_sets, fit, pixels, strips_per_epoch
from training.seq2seq import count_parameters
from training.strip_models import CELL, Probabilities

CURVE = ("epoch", "loss", "seconds", "answer_exact_match", "expression_exact_match")  # per epoch


def build(config: Config, out: Path, command: str, max_batches: int | None = None) -> dict:
    started = time.perf_counter()
    model, history, final = fit(config, max_batches=max_batches)
    seconds = time.perf_counter() - started
    train_q, unseen_q = ar.split(ar.all_queries(), config.train_fraction, config.split_seed)
    held_out, unseen = evaluation_sets(config, unseen_q)
    rng = np.random.default_rng(0)  # parity strips: held-out handwriting of every 79th query
    check = draw(ar.all_queries()[::79], "test", rng, config.paddings, config.answer_padding)
    exported = Probabilities(model)
    export_onnx(
        exported, {"strip": pixels(check.pixels[:8])}, out / "model.onnx", ["answer", "symbols"]
    )
    card = {
        "task": "image2text",
        "description": (
            "Reads a handwritten A+B or A-B (0 <= A, B <= 99) from a strip of five 28x28 cells, "
            "one symbol per cell, and answers it; also gives the symbol it read in each cell."
        ),
        "symbols": ar.SYMBOLS,
        "query_length": ar.QUERY_LEN,
        "answer_length": ar.ANSWER_LEN,
        "cell": {"height": CELL, "width": CELL, "cells": ar.QUERY_LEN},
        "polarity": "light on dark",
        "pixels": "float32 in 0..1 (uint8 / 255), strip [batch, 1, 28, 140], cells left to right",
        "readout": {
            "answer": "argmax symbol per position, blanks stripped",
            "symbols": "argmax symbol per cell, blanks stripped: the expression as read",
        },
        "padding": {"answer": config.answer_padding},
        "trained_paddings": list(config.paddings),
        "architecture": config.arch,
        "parameters": count_parameters(model),
        "dataset": {
            "name": "handwritten arithmetic strips",
            "queries": len(ar.all_queries()),
            "split": {
                "train_fraction": config.train_fraction,
                "seed": config.split_seed,
                "train": len(train_q),
                "held_out": len(unseen_q),
                "held_out_sha256": ar.fingerprint(unseen_q),
            },
            "digits": {
                "source": f"MNIST from the PyPI wheel {mnist.WHEEL}, checked against IDX sha256",
                "train": "MNIST train (60,000 images)",
                "held_out": "MNIST test (10,000 images)",
            },
            "operators": {
                "train": "glyph family 'train': smooth strokes of constant width",
                "held_out": "glyph family 'test' (never trained on): shaky, tapering strokes",
                "families": {name: asdict(f) for name, f in glyphs.FAMILIES.items()},
            },
            "strips": {
                "train_per_epoch": strips_per_epoch(config, len(train_q), max_batches),
                "epochs": config.epochs,
                "augment": config.augment,
                "train_seed": config.seed,
                "held_out": sum(len(s) for s in held_out.values()),
                "held_out_seed": config.eval_seed,
                "held_out_sha256": hashlib.sha256(
                    b"".join(s.pixels.numpy().tobytes() for s in held_out.values())
                ).hexdigest(),
                "unseen_queries": len(unseen),
            },
        },
        "training": {
            **training_record(command, config.to_dict(), seconds, history),
            "curve": [{k: round(v, 4) for k, v in h.items() if k in CURVE} for h in history],
        },
        "metrics": {
            **final,
            "held_out_strips": sum(len(s) for s in held_out.values()),
            "unseen_query_strips": len(unseen),
            "onnx_parity_max_abs_diff": parity(
                exported, out / "model.onnx", {"strip": pixels(check.pixels).numpy()}
            ),
        },
    }
    return write_card(out, card)
