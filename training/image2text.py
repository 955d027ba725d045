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

import re
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn

from training import arithmetic as ar
from training.loop import train
from training.strip_models import ARCHITECTURES
from training.strips import Source, make_strips

QUERY = re.compile(r"\d{1,2}[+-]\d{1,2}")


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
    """Handwritten strips of ``queries`` (see :func:`training.strips.make_strips`) and targets."""
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
    outputs = [model(pixels(strips.pixels[i : i + batch])) for i in range(0, len(strips), batch)]
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


def loss_function(symbol_weight: float) -> Callable[[nn.Module, tuple], torch.Tensor]:
    """Cross-entropy of the answer plus ``symbol_weight`` times that of the cells' symbols."""
    ce = nn.CrossEntropyLoss()

    def loss(model: nn.Module, batch: tuple) -> torch.Tensor:
        x, symbols, answers = batch
        out = model(x)
        total = torch.zeros(())
        if "answer" in out:
            total = total + ce(out["answer"].flatten(0, 1), answers.flatten())
        if "symbols" in out:
            total = total + symbol_weight * ce(out["symbols"].flatten(0, 1), symbols.flatten())
        return total

    return loss


def strips_per_epoch(config: Config, train_queries: int, max_batches: int | None) -> int:
    """Training strips drawn per epoch: one per training query unless the config says otherwise."""
    n = config.strips_per_epoch or train_queries
    return n if max_batches is None else min(n, max_batches * config.batch_size)


def fit(
    config: Config,
    progress: bool = True,
    on_epoch: Callable[[dict], None] | None = None,
    max_batches: int | None = None,
) -> tuple[nn.Module, list[dict], dict[str, float]]:
    """Train on fresh strips every epoch; after every epoch, score the held-out strips.

    Returns the model, one record per epoch, and the final held-out scores (the last epoch's).
    ``max_batches`` cuts every epoch short and draws only the strips it needs (for ``--dry-run``).
    """
    torch.manual_seed(config.seed)
    train_q, unseen_q = ar.split(ar.all_queries(), config.train_fraction, config.split_seed)
    held_out, unseen = evaluation_sets(config, unseen_q)
    model = ARCHITECTURES[config.arch](**config.model)
    n = strips_per_epoch(config, len(train_q), max_batches)
    steps_per_epoch = -(-n // config.batch_size)

    def batches(epoch: int) -> Iterator[tuple]:
        rng = np.random.default_rng([config.seed, epoch])
        picked = [train_q[i] for i in rng.choice(len(train_q), n, replace=n > len(train_q))]
        strips = draw(picked, "train", rng, config.paddings, config.answer_padding, config.augment)
        for step in range(steps_per_epoch):
            yield strips.batch(slice(step * config.batch_size, (step + 1) * config.batch_size))

    history = train(
        model,
        config,
        steps_per_epoch,
        batches,
        loss=loss_function(config.symbol_weight),
        evaluate=lambda m: evaluate(m, held_out, unseen, config),
        desc=config.arch + ("" if config.augment else " (no augmentation)"),
        watch="answer_exact_match",
        progress=progress,
        on_epoch=on_epoch,
    )
    final = {k: v for k, v in history[-1].items() if k not in ("epoch", "loss", "seconds")}
    return model, history, final
