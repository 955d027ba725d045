"""Scoring the strip readers (:mod:`training.models.strip_readers`) on held-out strips.

Two things can be unseen at evaluation, and each gets its own measurement: handwriting (every
evaluation strip is drawn from MNIST *test* digits and the *test* operator family) and queries
(``unseen_queries_*``: strips of queries kept out of training altogether). A share of the
held-out strips is also scored as the service would hand them over after each way of sending
them (``sent_<variant>_*``, :mod:`training.data.strip_variants`): as drawn, JPEG-compressed,
scaled, photographed, dark on light.
"""

import copy
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from training.data import arithmetic as ar
from training.data.strip_variants import as_served
from training.data.strips import QUERY, Strips, concat, draw, pixels
from training.devices import device_of
from training.models.strip_readers import VIEWS

if TYPE_CHECKING:  # the image2text config, whose fields these read
    from training.tasks.image2text import Config


def served(strips: Strips, variant: str, rng: np.random.Generator) -> Strips:
    """The same strips as the model gets them when sent as ``variant``."""
    pixels = torch.from_numpy(as_served(strips.pixels.numpy(), variant, rng))
    return replace(strips, pixels=pixels)


def evaluation_sets(config: "Config", unseen_q: list[str]) -> tuple[dict[str, Strips], Strips]:
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


def variant_sets(config: "Config", held_out: dict[str, Strips]) -> dict[str, Strips]:
    """``variant_strips`` of the held-out strips (as many of each padding) as the model gets
    them when sent as each of ``eval_variants``: the same strips every time."""
    rng = np.random.default_rng([config.eval_seed, 1])
    share = config.variant_strips // len(held_out)
    mixed = concat([s[:share] for s in held_out.values()])
    return {
        v: replace(mixed, pixels=torch.from_numpy(as_served(mixed.pixels.numpy(), v, rng)))
        for v in config.eval_variants
    }


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
    model: nn.Module,
    held_out: dict[str, Strips],
    unseen: Strips,
    variants: dict[str, Strips],
    config: "Config",
) -> dict[str, float]:
    """Exact match of the answer and of the expression per padding, their means, unseen
    queries, each variant.

    ``answer_symbol_accuracy`` is the study's metric (share of answer positions right).
    """
    scores: dict[str, float] = {}
    per_side = {side: correct(model, s, config.answer_padding) for side, s in held_out.items()}
    for what in per_side[config.paddings[0]]:
        name = "answer_symbol_accuracy" if what == "answer_symbol" else f"{what}_exact_match"
        for side, right in per_side.items():
            scores[f"{name}_{side}_padded"] = float(right[what].mean())
        scores[name] = float(np.mean([scores[f"{name}_{side}_padded"] for side in per_side]))
    named = {"unseen_queries": unseen} | {f"sent_{v}": s for v, s in variants.items()}
    for name, strips in named.items():
        if len(strips):
            for what, right in correct(model, strips, config.answer_padding).items():
                if what != "answer_symbol":
                    scores[f"{name}_{what}_exact_match"] = float(right.mean())
    return scores


def one_view_scores(
    model: nn.Module, config: "Config", held_out: dict, unseen: Strips
) -> dict[str, float]:
    """What reading each strip in several views buys: the same model's exact matches with one
    view (``one_view_*``), beside the card's, which are read as exported. Nothing for a model
    read once (its variant strips, 17 s to draw, are then not drawn)."""
    if len(getattr(model, "views", ())) <= 1:
        return {}
    single = copy.deepcopy(model).eval()
    single.views = VIEWS[1]
    with torch.no_grad():
        scores = evaluate(single, held_out, unseen, variant_sets(config, held_out), config)
    return {
        f"one_view_{name}": value for name, value in scores.items() if name.endswith("exact_match")
    }
