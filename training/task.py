"""What a model's training supplies to the engine (:mod:`training.engine`): a :class:`Task`.

A task says only what differs between models: its networks, their optimisers and schedules, the
training data, one step's losses and the held-out evaluation. :class:`OneModelTask` is the common
case (one network, AdamW, a one-cycle schedule, one loss).
"""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel
from torch.utils.data import Dataset

Update = Callable[[str, torch.Tensor], float]


def one_cycle(lr: float) -> Callable[..., torch.optim.lr_scheduler.LRScheduler]:
    """A one-cycle schedule peaking at ``lr``, over the whole run (for :meth:`Task.schedule`)."""

    def make(optimizer, steps_per_epoch: int, epochs: int, last_step: int):
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, lr, total_steps=epochs * steps_per_epoch, last_epoch=last_step
        )

    return make


def linear_decay(optimizer, steps_per_epoch: int, epochs: int, last_step: int):
    """The learning rate falling linearly to 0 over the run (for :meth:`Task.schedule`)."""
    total = epochs * steps_per_epoch
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: max(0.0, 1 - step / total), last_epoch=last_step
    )


def trained_models(task: "Task") -> list[nn.Module]:
    return [task.models[name] for name in task.trained]


class Task:
    """What one model's training says; the engine supplies everything else.

    A task sets ``name``, ``seed``, ``batch_size`` and ``epochs`` and overrides :meth:`build`,
    :meth:`optimizers`, :meth:`dataset` and :meth:`step`; the rest is optional. ``device`` is
    set by the engine before :meth:`build`; ``models`` holds what :meth:`build` returned.
    """

    name = "task"
    seed = 0
    batch_size = 64
    epochs = 1
    drop_last = False  # drop each epoch's last partial batch
    eval_every = 1
    watch = "loss"  # the score shown on the progress bar
    device = torch.device("cpu")
    models: dict[str, nn.Module]
    trained: tuple[str, ...] = ()  # the names in :meth:`optimizers`, set by the engine

    def build(self) -> dict[str, nn.Module]:
        """The networks (and any other module whose state a checkpoint must keep)."""
        raise NotImplementedError

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """One optimiser per trained network, under that network's name in :attr:`models`."""
        raise NotImplementedError

    def schedule(self, name: str) -> Callable[..., torch.optim.lr_scheduler.LRScheduler] | None:
        """A factory ``(optimizer, steps_per_epoch, epochs, last_step)`` stepped every step."""
        return None

    def dataset(self) -> Dataset:
        """The training samples; a ``set_epoch(epoch)`` method, if it has one, is called first."""
        raise NotImplementedError

    def step(self, nets: dict[str, nn.Module], batch: Any, update: Update) -> dict[str, float]:
        """One training step on ``batch`` (on the device): compute each loss with ``nets`` (the
        networks as the engine runs them) and hand it to ``update(name, loss)``, which steps that
        network's optimiser and returns the loss as a float. Returns the losses to record."""
        raise NotImplementedError

    def after_step(self) -> None:
        """Called after every step (a moving average of weights updates here)."""

    def evaluate(self) -> dict[str, float]:
        """Held-out scores, on rank 0, with :attr:`models` in eval mode and no gradients."""
        return {}

    def end_epoch(self, history: list[dict], run_dir: Path) -> None:
        """Rank 0, after the epoch's evaluation: write what a task writes per epoch."""

    def images(self) -> torch.Tensor | None:
        """Samples ``[n, c, h, w]`` in 0..1 for TensorBoard after each epoch, if any."""
        return None

    def config(self) -> dict:
        """What determines the run; a resumed run must have the same (see :meth:`to_match`)."""
        return {}

    def to_match(self, config: dict) -> dict:
        """The part of ``config`` that a checkpoint must share to be resumed: all but the
        ``epochs`` (a run may be extended; its schedule then goes on from the point a run planned
        that long would be at)."""
        return {key: value for key, value in config.items() if key != "epochs"}


class OneModelTask(Task):
    """One network under AdamW and a one-cycle schedule, one loss: the text and image models.

    ``config`` supplies ``seed``, ``batch_size``, ``epochs``, ``lr``, ``weight_decay`` and
    ``eval_every``, and is what a resumed run must match; a subclass adds ``build``, ``dataset``
    and ``loss``. The network is ``models["model"]``.
    """

    def __init__(self, config: Any, name: str):
        self.settings, self.name = config, name
        for field in ("seed", "batch_size", "epochs", "eval_every"):
            setattr(self, field, getattr(config, field))

    @property
    def model(self) -> nn.Module:
        return self.models["model"]

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"model": torch.optim.AdamW(self.model.parameters(), lr=self.settings.lr,
                                           weight_decay=self.settings.weight_decay)}  # fmt: skip

    def schedule(self, name: str):
        return one_cycle(self.settings.lr)

    def loss(self, model: nn.Module, batch: Any) -> torch.Tensor:
        raise NotImplementedError

    def step(self, nets: dict[str, nn.Module], batch: Any, update: Update) -> dict[str, float]:
        return {"loss": update("model", self.loss(nets["model"], batch))}

    def config(self) -> dict:
        return self.settings.to_dict()


def moving_average(module: nn.Module, decay: float) -> AveragedModel:
    """An exponential moving average of ``module``'s weights and buffers (BatchNorm statistics
    too), updated by ``update_parameters(module)`` after each step; ``.module`` is the network.

    The decay warms up as ``(1 + n) / (10 + n)`` after ``n`` updates until it reaches ``decay``
    (as TensorFlow's ``ExponentialMovingAverage(num_updates=)``): at a fixed 0.999 the average of
    a 2,000-step run still holds 0.999^2000 = 14 % of the random initial weights.
    """

    def blend(average: torch.Tensor, current: torch.Tensor, updates: torch.Tensor) -> torch.Tensor:
        rate = ((1 + updates) / (10 + updates)).clamp(max=decay)
        return average + (current - average) * (1 - rate)

    return AveragedModel(module, avg_fn=blend, use_buffers=True)


BOOKKEEPING = ("epoch", "loss", "seconds", "lr", "planned_epochs")  # in every epoch's record


def held_out_scores(history: list[dict]) -> dict[str, float]:
    """The last epoch's held-out scores (its record without the training bookkeeping)."""
    return {k: v for k, v in history[-1].items() if k not in BOOKKEEPING}
