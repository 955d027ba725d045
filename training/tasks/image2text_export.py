"""Exporting a trained strip reader of ours (one, or a committee): ``model.onnx`` with softmax
``answer`` and ``symbols``, and the card the service reads."""

import hashlib
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from torch import nn

from training.data import arithmetic as ar
from training.data import glyphs, mnist, strip_variants
from training.data.strips import draw, pixels
from training.evaluation.strip_reading import evaluation_sets, one_view_scores
from training.export import export_onnx, parity, schedule_segments, training_record, write_card
from training.launch import Launch
from training.models.seq2seq import count_parameters
from training.models.strip_readers import CELL, Committee, Probabilities
from training.task import held_out_scores

if TYPE_CHECKING:  # image2text imports this module to export what it trained
    from training.tasks.image2text import Config

CURVE = ("epoch", "loss", "seconds", "answer_exact_match", "expression_exact_match")  # per epoch


def curve(history: list[dict]) -> list[dict]:
    return [{k: round(v, 4) for k, v in h.items() if k in CURVE} for h in history]


def training_section(
    config: "Config", command: str, seconds: float, histories: list[list[dict]], launch: Launch
) -> dict:
    """The card's ``training``: one reader's record and curve, or a committee's with a record
    per member (its seed, schedule, time and own held-out scores)."""
    epochs = [record for history in histories for record in history]
    record = training_record(command, config.to_dict(), seconds, epochs, launch.engine)
    if len(histories) == 1:
        return {**record, "curve": curve(histories[0])}
    del record["final_loss"], record["schedule"]  # each member's, below
    members = [
        {
            "seed": config.seed + k,
            "seconds": round(sum(h.get("seconds", 0.0) for h in history), 1),
            "final_loss": history[-1]["loss"],
            "schedule": schedule_segments(history),
            "held_out": {
                name: value
                for name, value in held_out_scores(history).items()
                if name.endswith("exact_match") and "padded" not in name
            },
            "curve": curve(history),
        }
        for k, history in enumerate(histories)
    ]
    return {**record, "members": members}


def readout(model: nn.Module) -> dict:
    """How the card tells a client to read the two outputs."""
    if isinstance(model, Committee):
        views = (
            f"each cell's probabilities are the mean of {len(model.readers)} readers trained "
            "apart (seeds in training.members), one reading each (inside the graph)"
        )
    elif len(getattr(model, "views", ())) > 1:
        views = (
            f"each cell's probabilities are the mean over {len(model.views)} readings of "
            "the strip: as sent and shifted one pixel each way (inside the graph)"
        )
    else:
        views = "one reading of the strip"
    return {
        "answer": "argmax symbol per position, blanks stripped",
        "symbols": "argmax symbol per cell, blanks stripped: the expression as read",
        "views": views,
    }


def export(
    model: nn.Module,
    config: "Config",
    histories: list[list[dict]],
    final: dict[str, float],
    seconds: float,
    train_per_epoch: int,
    out: Path,
    command: str,
    launch: Launch,
) -> dict:
    """Write ``out/model.onnx`` and its card: ``final`` are the model's held-out scores."""
    train_q, unseen_q = ar.split(ar.all_queries(), config.train_fraction, config.split_seed)
    held_out, unseen = evaluation_sets(config, unseen_q)
    views = one_view_scores(model, config, held_out, unseen)
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
        "readout": readout(model),
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
                "train_per_epoch": train_per_epoch,
                "epochs": config.epochs,
                "augment": config.augment,
                "train_seed": config.seed,
                "held_out": sum(len(s) for s in held_out.values()),
                "held_out_seed": config.eval_seed,
                "held_out_sha256": hashlib.sha256(
                    b"".join(s.pixels.numpy().tobytes() for s in held_out.values())
                ).hexdigest(),
                "unseen_queries": len(unseen),
                "sent_as": {
                    "variants": strip_variants.describe(),
                    "train": list(config.variants),
                    "held_out": list(config.eval_variants),
                    "held_out_strips_per_variant": config.variant_strips,
                    "read_by": "service.images.read_strip, as the service reads uploads",
                },
            },
        },
        "training": training_section(config, command, seconds, histories, launch),
        "metrics": {
            **final,
            **views,
            "held_out_strips": sum(len(s) for s in held_out.values()),
            "unseen_query_strips": len(unseen),
            "onnx_parity_max_abs_diff": parity(
                exported, out / "model.onnx", {"strip": pixels(check.pixels).numpy()}
            ),
        },
    }
    return write_card(out, card)
