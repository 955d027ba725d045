"""Training and evaluation of a text-to-text arithmetic model on a split of the 20,000 queries."""

from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn

from training import arithmetic as ar
from training.loop import train
from training.seq2seq import ARCHITECTURES


@dataclass
class Config:
    """Everything that determines a run; stored whole in the model card."""

    arch: str = "attention"
    train_fraction: float = 0.5
    split_seed: int = 0
    seed: int = 0
    epochs: int = 50
    batch_size: int = 128
    lr: float = 3e-3
    weight_decay: float = 0.3
    paddings: tuple[str, ...] = ar.PADDINGS
    answer_padding: str = "left"
    eval_every: int = 1
    curve_queries: int | None = None
    model: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def encode_split(queries: list[str], paddings: tuple[str, ...], answer_padding: str):
    """Tensors (x, y) holding every query once per padding."""
    x = np.concatenate([ar.encode(queries, ar.QUERY_LEN, side) for side in paddings])
    y = np.concatenate([ar.answer_ids(queries, answer_padding)] * len(paddings))
    return torch.from_numpy(x), torch.from_numpy(y)


@torch.no_grad()
def exact_match(model: nn.Module, queries: list[str], side: str, answer_padding: str) -> float:
    """Fraction of queries whose whole answer the model gets right, queries padded on ``side``."""
    model.eval()
    x, y = encode_split(queries, (side,), answer_padding)
    predicted = model(x).argmax(dim=-1)
    return (predicted == y).all(dim=1).double().mean().item()


def evaluate(model: nn.Module, queries: list[str], config: Config) -> dict[str, float]:
    """Exact match per padding the model was trained on, and their mean."""
    scores = {
        f"exact_match_{side}_padded": exact_match(model, queries, side, config.answer_padding)
        for side in config.paddings
    }
    scores["exact_match"] = float(np.mean(list(scores.values())))
    return scores


def fit(
    config: Config,
    progress: bool = True,
    on_epoch: Callable[[dict], None] | None = None,
    max_batches: int | None = None,
) -> tuple[nn.Module, list[dict], dict[str, float]]:
    """Train on the config's split; after every epoch, measure exact match on the held-out queries.

    The per-epoch curve is measured on ``curve_queries`` held-out queries drawn once (all if None),
    to keep long sweeps affordable; the returned final scores always use every held-out query.
    ``max_batches`` cuts every epoch short (for ``--dry-run``).
    """
    torch.manual_seed(config.seed)
    train_q, test_q = ar.split(ar.all_queries(), config.train_fraction, config.split_seed)
    x, y = encode_split(train_q, config.paddings, config.answer_padding)
    curve_q = test_q
    if config.curve_queries is not None and config.curve_queries < len(test_q):
        pick = np.random.default_rng(config.seed).choice(
            len(test_q), config.curve_queries, replace=False
        )
        curve_q = [test_q[i] for i in pick]
    model = ARCHITECTURES[config.arch](
        n_symbols=len(ar.SYMBOLS), answer_len=ar.ANSWER_LEN, **config.model
    )
    steps_per_epoch = -(-len(x) // config.batch_size)
    if max_batches is not None:
        steps_per_epoch = min(steps_per_epoch, max_batches)
    generator = torch.Generator().manual_seed(config.seed)

    def batches(epoch: int):
        order = torch.randperm(len(x), generator=generator)
        for step in range(steps_per_epoch):
            batch = order[step * config.batch_size : (step + 1) * config.batch_size]
            yield x[batch], y[batch]

    loss_fn = nn.CrossEntropyLoss()
    history = train(
        model,
        config,
        steps_per_epoch,
        batches,
        loss=lambda m, batch: loss_fn(m(batch[0]).flatten(0, 1), batch[1].flatten()),
        evaluate=lambda m: evaluate(m, curve_q, config),
        desc=f"{config.arch} {config.train_fraction:.0%}",
        watch="exact_match",
        progress=progress,
        on_epoch=on_epoch,
    )
    return model, history, evaluate(model, test_q, config)
