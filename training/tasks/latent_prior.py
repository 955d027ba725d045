"""The VAE's latent prior: a RealNVP flow (:mod:`training.models.flow`) fitted by maximum
likelihood to the encoder's means of the training images, on the engine like any other model."""

import math
from dataclasses import replace

import torch
from torch import nn
from torch.utils.data import TensorDataset

from training.launch import Launch
from training.models.flow import HIDDEN, LatentFlow, NegativeLogLikelihood
from training.task import Task, Update


def cosine_by_epoch(optimizer, steps_per_epoch: int, epochs: int, last_step: int):
    """Cosine annealing to 0 over the epochs, the rate fixed within an epoch."""
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: 0.5 * (1 + math.cos(math.pi * (step // steps_per_epoch) / epochs)),
        last_epoch=last_step,
    )


class LatentPriorTask(Task):
    """A RealNVP flow fitted by maximum likelihood to the VAE encoder's means."""

    name = "latent prior"
    batch_size = 256
    lr = 1e-3

    def __init__(self, codes: torch.Tensor, epochs: int, seed: int, hidden: int):
        self.codes, self.epochs, self.seed, self.hidden = codes, epochs, seed, hidden

    def build(self) -> dict[str, nn.Module]:
        return {"prior": NegativeLogLikelihood(LatentFlow(self.codes, hidden=self.hidden))}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"prior": torch.optim.Adam(self.models["prior"].parameters(), self.lr)}

    def schedule(self, name: str):
        return cosine_by_epoch

    def dataset(self) -> TensorDataset:
        return TensorDataset(self.codes)

    def step(self, nets: dict[str, nn.Module], batch: tuple, update: Update) -> dict[str, float]:
        return {"loss": update("prior", nets["prior"](batch[0]))}


def fit_latent_prior(
    codes: torch.Tensor,
    epochs: int,
    launch: Launch | None = None,
    seed: int = 0,
    hidden: int = HIDDEN,
) -> tuple[LatentFlow, list[float]]:
    """The flow fitted to ``codes`` ``[n, latent]``, and the mean loss of each epoch. It has no
    checkpoint of its own (it is refitted in minutes) and runs every batch even in a dry run."""
    launch = replace(launch or Launch.local(), run_dir=None, resume=False, max_batches=None)
    task = LatentPriorTask(codes, epochs, seed, hidden)
    history = launch.fit(task)
    return task.models["prior"].flow.eval(), [h["loss"] for h in history]
