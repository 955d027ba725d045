"""Where training runs: the devices this machine has, and moving modules and batches to one."""

from typing import Any

import torch
from torch import nn


class DeviceError(RuntimeError):
    """A device that is not on this machine; the message names the ones that are."""


def available_devices() -> list[str]:
    found = ["cpu"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    return found + (["mps"] if torch.backends.mps.is_available() else [])


def pick_device(name: str, local_rank: int = 0) -> torch.device:
    """``auto`` is cuda, then mps, then cpu; ``cuda`` under torchrun is this process's GPU."""
    available, asked = available_devices(), name
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "mps" if "mps" in available else "cpu"
    if name == "cuda":
        name = f"cuda:{local_rank}"
    if name not in available:
        raise DeviceError(f"--device {asked} is not available here; available: "
                          f"{', '.join(available)}")  # fmt: skip
    return torch.device(name)


def device_of(module: nn.Module) -> torch.device:
    """Where a module's weights are (the CPU for one without any)."""
    weight = next(module.parameters(), None)
    return torch.device("cpu") if weight is None else weight.device


def to_device(batch: Any, device: torch.device) -> Any:
    """Tensors of a batch (nested in tuples, lists or dicts) moved to ``device``."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, list | tuple):
        return type(batch)(to_device(v, device) for v in batch)
    return batch
