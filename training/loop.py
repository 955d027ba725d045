"""The training loop the text and image models share: AdamW, a one-cycle schedule, an epoch record.

What differs between tasks (where batches come from, the loss, what is measured on held-out data)
is passed in, so each task keeps only its own data and metrics.
"""

import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

Batch = Any


class Schedule(Protocol):
    """The fields of a task's config the loop reads."""

    epochs: int
    lr: float
    weight_decay: float
    eval_every: int


def train(
    model: nn.Module,
    schedule: Schedule,
    steps_per_epoch: int,
    batches: Callable[[int], Iterable[Batch]],
    loss: Callable[[nn.Module, Batch], torch.Tensor],
    evaluate: Callable[[nn.Module], dict[str, float]],
    desc: str,
    watch: str,
    progress: bool = True,
    on_epoch: Callable[[dict], None] | None = None,
) -> list[dict]:
    """Train ``model`` in place and return one record per epoch: loss, seconds, held-out scores.

    ``batches(epoch)`` yields the epoch's ``steps_per_epoch`` batches; the time to make them counts
    in the epoch's seconds, the held-out evaluation (every ``eval_every`` epochs and after the last)
    does not. ``watch`` names the score shown on the progress bar.
    """
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=schedule.lr, weight_decay=schedule.weight_decay
    )
    lr_schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=schedule.lr, total_steps=schedule.epochs * steps_per_epoch
    )
    history = []
    bar = tqdm(range(1, schedule.epochs + 1), desc=desc, disable=not progress, unit="epoch")
    for epoch in bar:
        model.train()
        started, total = time.perf_counter(), 0.0
        for batch in batches(epoch):
            value = loss(model, batch)
            optimizer.zero_grad()
            value.backward()
            optimizer.step()
            lr_schedule.step()
            total += value.item()
        record = {
            "epoch": epoch,
            "loss": total / steps_per_epoch,
            "seconds": time.perf_counter() - started,
        }
        if epoch % schedule.eval_every == 0 or epoch == schedule.epochs:
            model.eval()
            record.update(evaluate(model))
        history.append(record)
        bar.set_postfix(loss=f"{record['loss']:.4f}", held_out=f"{record.get(watch, np.nan):.4f}")
        if on_epoch:
            on_epoch(record)
    return history
