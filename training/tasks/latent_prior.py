"""The VAE's latent prior: a RealNVP flow (:mod:`training.models.flow`) fitted by maximum
likelihood to the encoder's codes of the training images (its means, or draws from each image's
posterior), on the engine like any other model."""

import math
from dataclasses import replace

import torch
from torch import nn
from torch.utils.data import TensorDataset

from training.launch import Launch
from training.models.flow import HIDDEN, LatentFlow, NegativeLogLikelihood
from training.models.generators import reparameterise
from training.task import Task, Update


def cosine_by_epoch(optimizer, steps_per_epoch: int, epochs: int, last_step: int):
    """Cosine annealing to 0 over the epochs, the rate fixed within an epoch."""
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: 0.5 * (1 + math.cos(math.pi * (step // steps_per_epoch) / epochs)),
        last_epoch=last_step,
    )


class LatentPriorTask(Task):
    """A RealNVP flow fitted by maximum likelihood to the VAE encoder's means, or to draws from
    the posteriors they and ``log_vars`` describe, new in every batch."""

    name = "latent prior"
    batch_size = 256
    lr = 1e-3

    def __init__(
        self,
        codes: torch.Tensor,
        epochs: int,
        seed: int,
        hidden: int,
        log_vars: torch.Tensor | None,
    ):
        self.codes, self.epochs, self.seed, self.hidden = codes, epochs, seed, hidden
        self.log_vars = log_vars

    def build(self) -> dict[str, nn.Module]:
        # The flow standardises by the spread of what it fits: draws spread wider than means.
        fitted = self.codes if self.log_vars is None else reparameterise(self.codes, self.log_vars)
        return {"prior": NegativeLogLikelihood(LatentFlow(fitted, hidden=self.hidden))}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"prior": torch.optim.Adam(self.models["prior"].parameters(), self.lr)}

    def schedule(self, name: str):
        return cosine_by_epoch

    def dataset(self) -> TensorDataset:
        return TensorDataset(self.codes, *([] if self.log_vars is None else [self.log_vars]))

    def step(self, nets: dict[str, nn.Module], batch: tuple, update: Update) -> dict[str, float]:
        codes = batch[0] if len(batch) == 1 else reparameterise(*batch)
        return {"loss": update("prior", nets["prior"](codes))}


def fit_latent_prior(
    codes: torch.Tensor,
    epochs: int,
    launch: Launch | None = None,
    seed: int = 0,
    hidden: int = HIDDEN,
    log_vars: torch.Tensor | None = None,
) -> tuple[LatentFlow, list[float]]:
    """The flow fitted to ``codes`` ``[n, latent]`` (or to draws around them, if their
    log-variances ``log_vars`` are given), and the mean loss of each epoch. It has no checkpoint
    of its own (it is refitted in minutes) and runs every batch even in a dry run."""
    launch = replace(launch or Launch.local(), run_dir=None, resume=False, max_batches=None)
    task = LatentPriorTask(codes, epochs, seed, hidden, log_vars)
    history = launch.fit(task)
    return task.models["prior"].flow.eval(), [h["loss"] for h in history]
