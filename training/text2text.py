"""Training and evaluation of a text-to-text arithmetic model on a split of the 20,000 queries."""

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from training import arithmetic as ar
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
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.lr, weight_decay=config.weight_decay
    )
    steps_per_epoch = -(-len(x) // config.batch_size)
    if max_batches is not None:
        steps_per_epoch = min(steps_per_epoch, max_batches)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=config.lr, total_steps=config.epochs * steps_per_epoch
    )
    loss_fn = nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(config.seed)
    history = []
    bar = tqdm(
        range(1, config.epochs + 1),
        desc=f"{config.arch} {config.train_fraction:.0%}",
        disable=not progress,
        unit="epoch",
    )
    for epoch in bar:
        model.train()
        started, total = time.perf_counter(), 0.0
        order = torch.randperm(len(x), generator=generator)
        for step in range(steps_per_epoch):
            batch = order[step * config.batch_size : (step + 1) * config.batch_size]
            loss = loss_fn(model(x[batch]).flatten(0, 1), y[batch].flatten())
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            total += loss.item()
        record = {
            "epoch": epoch,
            "loss": total / steps_per_epoch,
            "seconds": time.perf_counter() - started,
        }
        if epoch % config.eval_every == 0 or epoch == config.epochs:
            record.update(evaluate(model, curve_q, config))
        history.append(record)
        bar.set_postfix(
            loss=f"{record['loss']:.4f}", held_out=f"{record.get('exact_match', np.nan):.4f}"
        )
        if on_epoch:
            on_epoch(record)
    return model, history, evaluate(model, test_q, config)
