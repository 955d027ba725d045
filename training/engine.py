"""The one training loop every model goes through, in plain PyTorch.

A task (:class:`Task`) says only what differs between models: the networks, their optimisers,
the training data, one step's losses and the held-out evaluation. The engine owns the rest:
the device and the precision, processes under ``torchrun`` (DDP: gloo on CPU, nccl on CUDA), the
DataLoader and its sharding, seeding, the optimiser steps, checkpoints and resume, the progress bar
and the logs (TensorBoard events and the per-epoch history).

Launched as ``torchrun --nproc-per-node N -m training <command>``, every process trains on its own
shard of each epoch with the task's batch size, so the global batch is ``batch_size x N``; rank 0
alone evaluates, draws the progress bar and writes files. Checkpoints hold unwrapped weights and
the epoch, so a run written by N processes resumes on M.
"""

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler
from tqdm import tqdm

from training.devices import mixed_precision, pick_device, to_device
from training.runtime import Runtime
from training.task import Task, trained_models

CHECKPOINT = "checkpoint.pt"
LOG_EVERY = 20  # optimiser steps between TensorBoard loss points


def seed_for(*parts: int) -> int:
    """One 63-bit seed from several integers (seed, epoch, rank, ...), the same on any machine."""
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(2, np.uint32)
               .astype(np.uint64) @ np.array([1 << 31, 1], np.uint64))  # fmt: skip


class Engine:
    """Device, precision and processes, set up once per command; :meth:`fit` trains a task."""

    def __init__(self, runtime: Runtime | None = None, distributed: bool = True):
        self.runtime = runtime = runtime or Runtime()
        self.world_size = int(os.environ.get("WORLD_SIZE", 1)) if distributed else 1
        self.rank = int(os.environ.get("RANK", 0)) if self.world_size > 1 else 0
        local_rank = int(os.environ.get("LOCAL_RANK", 0))  # a local engine under torchrun too
        self.device = pick_device(runtime.device, local_rank)
        self.started_group = False
        if self.world_size > 1 and not dist.is_initialized():
            if self.device.type == "cuda":
                torch.cuda.set_device(self.device)
            dist.init_process_group("nccl" if self.device.type == "cuda" else "gloo")
            self.started_group = True
        if self.world_size > 1 and self.device.type == "cpu":
            local = int(os.environ.get("LOCAL_WORLD_SIZE", self.world_size))
            torch.set_num_threads(max(1, (os.cpu_count() or 1) // local))  # ranks share cores

    @classmethod
    def local(cls, runtime: Runtime | None = None) -> "Engine":
        """One process on ``runtime``'s device (default: the CPU), whatever torchrun says: for
        runs side by side and for library callers."""
        return cls(runtime or Runtime(device="cpu"), distributed=False)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.started_group:
            dist.destroy_process_group()
            self.started_group = False

    def describe(self) -> dict:
        """What a model card records of how it was trained."""
        return {**self.runtime.to_dict(), "device": str(self.device), "world_size": self.world_size}

    def fit(
        self,
        task: Task,
        run_dir: Path | None = None,
        resume: bool = False,
        progress: bool = True,
        max_batches: int | None = None,
    ) -> list[dict]:
        """Train ``task`` for ``task.epochs``; one record per epoch (losses, seconds, lr, scores).

        With ``run_dir``, rank 0 writes ``checkpoint.pt`` after every epoch and TensorBoard
        events under ``run_dir/tensorboard``; ``resume`` continues from the checkpoint there.
        ``max_batches`` cuts every epoch short (``--dry-run``). The models end on the CPU.
        """
        torch.manual_seed(task.seed)  # the same initial weights in every process
        task.device = self.device
        layout = torch.channels_last if self.runtime.channels_last else torch.preserve_format
        task.models = {n: m.to(self.device, memory_format=layout) for n, m in task.build().items()}
        optimizers = task.optimizers()
        task.trained = tuple(optimizers)
        scalers = {n: torch.amp.GradScaler(self.device.type, enabled=self.runtime.precision
                                           == "fp16") for n in optimizers}  # fmt: skip
        history: list[dict] = []
        if resume and run_dir is not None and (run_dir / CHECKPOINT).is_file():
            history = self.load(task, optimizers, scalers, run_dir / CHECKPOINT)
        nets = self.wrap(task, optimizers)
        loader = self.loader(task)
        steps = len(loader) if max_batches is None else min(len(loader), max_batches)
        done = history[-1]["epoch"] if history else 0
        schedules = {}
        for name, optimizer in optimizers.items():
            make = task.schedule(name)
            if make is not None:
                schedules[name] = make(optimizer, steps, task.epochs, done * steps - 1)
        writer = self.writer(run_dir)
        bar = tqdm(range(done + 1, task.epochs + 1), desc=task.name, unit="epoch",
                   disable=not (progress and self.is_main))  # fmt: skip
        for epoch in bar:
            record = self.train_epoch(task, nets, optimizers, scalers, schedules, loader, epoch,
                                      steps, writer)  # fmt: skip
            if self.is_main and (epoch % task.eval_every == 0 or epoch == task.epochs):
                record.update(self.in_eval_mode(task, task.evaluate))
            history.append(record)
            if self.is_main:
                self.log(task, record, writer)
                if run_dir is not None:
                    task.end_epoch(history, run_dir)
                    self.save(task, optimizers, scalers, history, run_dir / CHECKPOINT)
            shown = {"loss": f"{record['loss']:.4f}"}
            if task.watch in record and task.watch != "loss":
                shown["held_out"] = f"{record[task.watch]:.4f}"
            bar.set_postfix(shown)
        if writer is not None:
            writer.close()
        for model in task.models.values():
            model.cpu().eval()
        task.device = torch.device("cpu")
        return history

    def wrap(self, task: Task, optimizers: dict) -> dict[str, nn.Module]:
        """The networks as training runs them: in DDP across processes, compiled if asked."""
        nets = dict(task.models)
        for name in optimizers:
            if self.world_size > 1:
                nets[name] = DistributedDataParallel(nets[name])
            if self.runtime.compile:
                nets[name] = torch.compile(nets[name])
        return nets

    def loader(self, task: Task) -> DataLoader:
        """The task's samples, sharded across processes and shuffled by (seed, epoch)."""
        dataset = task.dataset()
        sampler = DistributedSampler(dataset, num_replicas=self.world_size, rank=self.rank,
                                     shuffle=True, seed=task.seed)  # fmt: skip
        whole_batches = len(sampler) // task.batch_size
        return DataLoader(
            dataset,
            batch_size=task.batch_size,
            sampler=sampler,
            num_workers=self.runtime.workers,
            drop_last=task.drop_last and whole_batches > 0,  # an epoch has at least one step
            pin_memory=self.device.type == "cuda",
        )

    def batches(self, loader: DataLoader, epoch: int, steps: int) -> Iterator[Any]:
        loader.sampler.set_epoch(epoch)
        if hasattr(loader.dataset, "set_epoch"):
            loader.dataset.set_epoch(epoch)
        for step, batch in enumerate(loader):
            if step == steps:
                return
            yield to_device(batch, self.device)

    def train_epoch(self, task, nets, optimizers, scalers, schedules, loader, epoch, steps,
                    writer) -> dict:  # fmt: skip
        """One epoch of steps; the losses averaged over steps and processes."""
        torch.manual_seed(seed_for(task.seed, epoch, self.rank))  # dropout, noise: per process
        precision = mixed_precision(self.device, self.runtime.precision)

        def update(name: str, loss: torch.Tensor) -> float:
            optimizer, scaler = optimizers[name], scalers[name]
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast(self.device.type, enabled=False):  # backward outside autocast
                scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            if name in schedules:
                schedules[name].step()
            return loss.item()

        for model in task.models.values():
            model.eval()
        for model in trained_models(task):
            model.train()
        started, totals, count = time.perf_counter(), {}, 0
        for batch in self.batches(loader, epoch, steps):
            with precision():
                losses = task.step(nets, batch, update)
            task.after_step()
            count += 1
            for key, value in losses.items():
                totals[key] = totals.get(key, 0.0) + value
            if writer is not None and count % LOG_EVERY == 0:
                global_step = (epoch - 1) * steps + count
                for key, value in losses.items():
                    writer.add_scalar(f"step/{key}", value, global_step)
        means = {k: v / max(count, 1) for k, v in totals.items()}
        if self.world_size > 1:  # every process's mean, averaged
            values = torch.tensor(list(means.values()), dtype=torch.float64, device=self.device)
            dist.all_reduce(values)
            means = dict(zip(means, (values / self.world_size).tolist(), strict=True))
        lr = next(iter(optimizers.values())).param_groups[0]["lr"]
        return {
            "epoch": epoch,
            **means,
            "lr": lr,
            "seconds": round(time.perf_counter() - started, 3),
            "planned_epochs": task.epochs,  # the schedule's length: an extended run changes it
        }

    @staticmethod
    @torch.no_grad()
    def in_eval_mode(task: Task, call: Callable[[], Any]) -> Any:
        """``call()`` with the task's models in eval mode and no gradients; the trained ones go
        back to train mode (frozen ones, a teacher or a moving average, stay in eval)."""
        for model in task.models.values():
            model.eval()
        try:
            return call()
        finally:
            for model in trained_models(task):
                model.train()

    def writer(self, run_dir: Path | None):
        if run_dir is None or not self.is_main:
            return None
        from torch.utils.tensorboard import SummaryWriter

        return SummaryWriter(str(run_dir / "tensorboard"))

    def log(self, task: Task, record: dict, writer) -> None:
        if writer is None:
            return
        for key, value in record.items():
            if key not in ("epoch", "planned_epochs") and isinstance(value, int | float):
                writer.add_scalar(f"epoch/{key}", value, record["epoch"])
        images = self.in_eval_mode(task, task.images)
        if images is not None:
            writer.add_images("samples", images.clamp(0, 1), record["epoch"])
        writer.flush()

    def save(self, task: Task, optimizers, scalers, history: list[dict], path: Path) -> None:
        """Unwrapped weights, optimiser and scaler states, the history: any world size resumes."""
        state = {
            "task": task.name,
            "config": task.config(),
            "world_size": self.world_size,
            "history": history,
            "models": {n: m.state_dict() for n, m in task.models.items()},
            "optimizers": {n: o.state_dict() for n, o in optimizers.items()},
            "scalers": {n: s.state_dict() for n, s in scalers.items()},
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        torch.save(state, partial)
        partial.replace(path)  # a crash mid-write never leaves half a checkpoint

    def load(self, task: Task, optimizers, scalers, path: Path) -> list[dict]:
        saved = torch.load(path, map_location=self.device, weights_only=True)
        # A setting added to the config since the checkpoint was written is taken as today's:
        # the code that wrote it had no such choice.
        now = task.to_match(task.config())
        if saved.get("task") != task.name or {**now, **task.to_match(saved["config"])} != now:
            raise ValueError(
                f"{path} was trained with another config ({saved.get('task')}: "
                f"{saved.get('config')}); a resume may change only the epochs and what inference "
                "alone reads"
            )
        for name, model in task.models.items():
            model.load_state_dict(saved["models"][name])
        for name, optimizer in optimizers.items():
            optimizer.load_state_dict(saved["optimizers"][name])
            if scalers[name].is_enabled() and saved["scalers"][name]:  # fp16 before and now
                scalers[name].load_state_dict(saved["scalers"][name])
        for record in saved["history"]:  # written before epochs were recorded with their plan
            record.setdefault("planned_epochs", saved["config"].get("epochs"))
        return saved["history"]
