"""Training and evaluation of the models that read handwritten strips (``strip_models``).

Two things can be unseen at evaluation, and each gets its own measurement:

- handwriting: every evaluation strip is drawn from MNIST *test* digits and the *test* operator
  family, never trained on. The headline set holds ``eval_strips`` queries drawn from all 20,000
  (the service faces every query), half of them padded on the right, half on the left.
- queries: a ``train_fraction`` split of the queries (as in text2text) keeps some queries out of
  training altogether; ``unseen_queries_*`` scores are measured on test-handwriting strips of those
  only, so it shows whether the arithmetic generalises rather than being memorised per query.

Training strips are drawn afresh every epoch (new digit images, new operator drawings, and with
``augment`` new distortions), one per training query and epoch unless ``strips_per_epoch`` says.
"""

import argparse
import hashlib
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import Dataset

from training import runtime
from training.data import arithmetic as ar
from training.data import glyphs, mnist
from training.data.strips import QUERY, Source, make_strips, mnist_by_class
from training.engine import Launch, OneModelTask, device_of, held_out_scores, launch_for, timed
from training.export import export_onnx, parity, training_record, write_card
from training.models.seq2seq import count_parameters
from training.models.strip_readers import ARCHITECTURES, CELL, Probabilities


@dataclass
class Config:
    """Everything that determines a run; stored whole in the model card."""

    arch: str = "ours"
    train_fraction: float = 0.9
    split_seed: int = 0
    seed: int = 0
    epochs: int = 24  # the answer lags the reading: it is limited by optimiser steps, and
    batch_size: int = 32  # 32 gives twice the steps of 64 at the same seconds per epoch on CPU
    lr: float = 3e-3
    weight_decay: float = 0.05
    paddings: tuple[str, ...] = ("right", "left")
    answer_padding: str = "left"
    augment: bool = True
    strips_per_epoch: int | None = None
    symbol_weight: float = 1.0
    eval_strips: int = 6000
    unseen_strips: int = 2000
    eval_seed: int = 1
    eval_every: int = 1
    model: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Strips:
    """Strips with their targets; pixels stay uint8 until a batch is taken."""

    pixels: torch.Tensor  # uint8 [n, 28, 140]
    symbols: torch.Tensor  # int64 [n, 5], the ids of ``texts``
    answers: torch.Tensor  # int64 [n, 3], blank-padded on the config's answer side
    texts: list[str]  # what each strip shows, blank-padded to 5

    def __len__(self) -> int:
        return len(self.texts)

    def batch(self, at: slice) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Model input ``float32 [b, 1, 28, 140]`` in 0..1, symbol ids, answer ids."""
        return pixels(self.pixels[at]), self.symbols[at], self.answers[at]


def pixels(strips: torch.Tensor | np.ndarray) -> torch.Tensor:
    """uint8 strips ``[n, 28, 140]`` as the models take them: ``float32 [n, 1, 28, 140]``, 0..1."""
    return torch.as_tensor(strips).unsqueeze(1).float() / 255


def draw(
    queries: list[str],
    source: Source,
    rng: np.random.Generator,
    paddings: tuple[str, ...],
    answer_padding: str,
    augment: bool = False,
) -> Strips:
    """Handwritten strips of ``queries`` (:func:`training.data.strips.make_strips`), targets."""
    images, texts = make_strips(queries, source, rng, paddings, augment)
    symbols = ar.encode(texts, ar.QUERY_LEN).argmax(-1)
    answers = ar.answer_ids([t.strip(ar.BLANK) for t in texts], answer_padding)
    return Strips(*(torch.from_numpy(a) for a in (images, symbols, answers)), texts)


def evaluation_sets(config: Config, unseen_q: list[str]) -> tuple[dict[str, Strips], Strips]:
    """The held-out strips, one set per padding, and the strips of queries never trained on."""
    rng = np.random.default_rng(config.eval_seed)
    queries = ar.all_queries()
    pick = rng.choice(len(queries), config.eval_strips, replace=False)
    held_out = {
        side: draw([queries[i] for i in part], "test", rng, (side,), config.answer_padding)
        for side, part in zip(
            config.paddings, np.array_split(pick, len(config.paddings)), strict=True
        )
    }
    pick = rng.choice(len(unseen_q), min(config.unseen_strips, len(unseen_q)), replace=False)
    unseen = draw([unseen_q[i] for i in pick], "test", rng, config.paddings, config.answer_padding)
    return held_out, unseen


def solve(expression: str) -> str | None:
    """Python arithmetic on an expression as read; None if it is not a query (then it is wrong)."""
    return ar.answer(expression) if QUERY.fullmatch(expression) else None


def spell(ids: np.ndarray | torch.Tensor) -> list[str]:
    """Symbol ids ``[n, length]`` as strings, blanks kept."""
    return ["".join(ar.SYMBOLS[i] for i in row) for row in np.asarray(ids)]


@torch.no_grad()
def predict(model: nn.Module, strips: Strips, answer_padding: str, batch: int = 500) -> dict:
    """Per strip: the answer as a 3-symbol string and, if the model reads cells, the 5 symbols.

    A model without an answer output (the cell classifier) answers by :func:`solve` on what it read.
    """
    model.eval()
    device = device_of(model)
    outputs = [
        {k: v.cpu() for k, v in model(pixels(strips.pixels[i : i + batch]).to(device)).items()}
        for i in range(0, len(strips), batch)
    ]
    texts = {name: spell(torch.cat([o[name] for o in outputs]).argmax(-1)) for name in outputs[0]}
    if "answer" not in texts:
        solved = [solve(t.strip(ar.BLANK)) for t in texts["symbols"]]
        texts["answer"] = [
            "?" * ar.ANSWER_LEN if a is None else ar.pad(a, ar.ANSWER_LEN, answer_padding)
            for a in solved
        ]
    return texts


def correct(model: nn.Module, strips: Strips, answer_padding: str) -> dict[str, np.ndarray]:
    """Per strip: is the whole answer right, is every cell read right; per answer symbol: right."""
    read = predict(model, strips, answer_padding)
    pairs = list(zip(read["answer"], spell(strips.answers), strict=True))
    right = {
        "answer": np.array([a.strip(ar.BLANK) == t.strip(ar.BLANK) for a, t in pairs]),
        "answer_symbol": np.array([[x == y for x, y in zip(a, t, strict=True)] for a, t in pairs]),
    }
    if "symbols" in read:
        right["expression"] = np.array(read["symbols"]) == np.array(strips.texts)
    return right


def evaluate(
    model: nn.Module, held_out: dict[str, Strips], unseen: Strips, config: Config
) -> dict[str, float]:
    """Exact match of the answer and of the expression per padding, their means, unseen queries.

    ``answer_symbol_accuracy`` is the study's metric (share of answer positions right).
    """
    scores: dict[str, float] = {}
    per_side = {side: correct(model, s, config.answer_padding) for side, s in held_out.items()}
    for what in per_side[config.paddings[0]]:
        name = "answer_symbol_accuracy" if what == "answer_symbol" else f"{what}_exact_match"
        for side, right in per_side.items():
            scores[f"{name}_{side}_padded"] = float(right[what].mean())
        scores[name] = float(np.mean([scores[f"{name}_{side}_padded"] for side in per_side]))
    if len(unseen):
        for what, right in correct(model, unseen, config.answer_padding).items():
            if what != "answer_symbol":
                scores[f"unseen_queries_{what}_exact_match"] = float(right.mean())
    return scores


def strips_per_epoch(config: Config, train_queries: int, max_batches: int | None) -> int:
    """Training strips drawn per epoch: one per training query unless the config says otherwise."""
    n = config.strips_per_epoch or train_queries
    return n if max_batches is None else min(n, max_batches * config.batch_size)


class TrainingStrips(Dataset):
    """Fresh handwriting every epoch: sample ``i`` is training query ``i`` (modulo their number)
    drawn, and with ``augment`` distorted, by a generator seeded by (seed, epoch, i), so the
    strips do not depend on which process or DataLoader worker draws them."""

    def __init__(self, queries: list[str], n: int, config: Config):
        self.queries, self.n, self.config, self.epoch = queries, n, config, 0
        mnist_by_class("train", None)  # loaded once, before any worker starts

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        c = self.config
        rng = np.random.default_rng([c.seed, self.epoch, index])
        query = self.queries[index % len(self.queries)]
        strip = draw([query], "train", rng, c.paddings, c.answer_padding, c.augment)
        return strip.pixels[0], strip.symbols[0], strip.answers[0]


class Image2Text(OneModelTask):
    """Train on fresh strips every epoch; after every epoch, score the held-out strips.

    The loss is the cross-entropy of the answer plus ``symbol_weight`` times that of the cells'
    symbols, for whichever of the two the model outputs.
    """

    watch = "answer_exact_match"

    def __init__(self, config: Config, max_batches: int | None = None):
        super().__init__(config, config.arch + ("" if config.augment else " (no augmentation)"))
        queries = ar.all_queries()
        self.train_q, unseen_q = ar.split(queries, config.train_fraction, config.split_seed)
        self.held_out, self.unseen = evaluation_sets(config, unseen_q)
        self.n = strips_per_epoch(config, len(self.train_q), max_batches)

    def build(self) -> dict[str, nn.Module]:
        return {"model": ARCHITECTURES[self.settings.arch](**self.settings.model)}

    def dataset(self) -> Dataset:
        return TrainingStrips(self.train_q, self.n, self.settings)

    def loss(self, model: nn.Module, batch: tuple) -> torch.Tensor:
        strips, symbols, answers = batch
        out = model(pixels(strips))
        terms = []
        if "answer" in out:
            terms.append(F.cross_entropy(out["answer"].flatten(0, 1), answers.flatten()))
        if "symbols" in out:
            symbol_loss = F.cross_entropy(out["symbols"].flatten(0, 1), symbols.flatten())
            terms.append(self.settings.symbol_weight * symbol_loss)
        return sum(terms)

    def evaluate(self) -> dict[str, float]:
        return evaluate(self.model, self.held_out, self.unseen, self.settings)


def fit(
    config: Config, launch: Launch | None = None
) -> tuple[nn.Module, list[dict], dict[str, float]]:
    """Train; returns the model, one record per epoch, and the final held-out scores (the last
    epoch's). A launch with ``max_batches`` draws only the strips it needs."""
    launch = launch or Launch.local()
    task = Image2Text(config, launch.max_batches)
    history = launch.fit(task)
    return task.model, history, held_out_scores(history)


CURVE = ("epoch", "loss", "seconds", "answer_exact_match", "expression_exact_match")  # per epoch


def build(config: Config, out: Path, command: str, launch: Launch) -> dict:
    """Train ours, export ``out/model.onnx`` and write its card (rank 0)."""
    (model, history, final), seconds = timed(lambda: fit(config, launch))
    if not launch.engine.is_main:
        return {}
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
                "train_per_epoch": strips_per_epoch(config, len(train_q), launch.max_batches),
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
            **training_record(command, config.to_dict(), seconds, history, launch.engine),
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


DRY_RUN_STRIPS = {"eval_strips": 40, "unseen_strips": 20}  # held-out strips of a --dry-run


def add_arguments(parser: argparse.ArgumentParser) -> None:
    runtime.add_config_flags(parser, Config, "epochs", "train_fraction", "seed", "batch_size")
    runtime.add_out_flag(parser, "exported/image2text")
    runtime.add_run_flags(parser, dry_run="at most 2 epochs of 2 batches, 40 held-out strips")


def run(args: argparse.Namespace, command: str) -> None:
    config = runtime.config_from(args, Config)
    if args.dry_run:
        config = replace(config, epochs=min(config.epochs, 2), **DRY_RUN_STRIPS)
    out = runtime.out_dir(args, runtime.REPO / "exported" / "image2text", "image2text")
    with launch_for(args, runtime.run_dir(args, "image2text")) as launch:
        card = build(config, out, command, launch)
    if card:
        metrics = card["metrics"]
        print(
            f"exported {out}: held-out answer exact match {metrics['answer_exact_match']:.4f}, "
            f"expression {metrics['expression_exact_match']:.4f}"
        )
