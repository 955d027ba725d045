"""Where training runs: the devices this machine has, moving modules and batches to one, and
the precision a step runs in there."""

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from functools import cache, partial
from typing import Any

import torch
from torch import nn

from training.usage import UsageError

AUTOCAST = {"32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


class DeviceError(UsageError):
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


def mixed_precision(device: torch.device, precision: str) -> Callable[[], AbstractContextManager]:
    """What a training step runs in: autocast to ``precision``'s dtype (nothing for "32").

    On a CPU where oneDNN cannot train an LSTM in that dtype, oneDNN is also off inside, so that
    PyTorch's own LSTM runs it (see :func:`onednn_trains_lstm`).
    """
    dtype = AUTOCAST[precision]
    if dtype is None:
        return nullcontext
    if device.type == "cpu" and not onednn_trains_lstm(dtype):
        return partial(_autocast_without_onednn, dtype)
    return partial(torch.autocast, device.type, dtype=dtype)


@cache
def onednn_trains_lstm(dtype: torch.dtype) -> bool:
    """Whether oneDNN builds the training LSTM in ``dtype`` on this CPU. Asked of a tiny LSTM,
    not of ``torch.ops.mkldnn._is_mkldnn_*_supported``: on AVX2 it has no kernels of either
    dtype, and on a Xeon with AVX-512 FP16 and AMX, which reports fp16 support, its LSTM still
    refuses fp16 with gradients ("could not create a primitive descriptor"; bf16 builds)."""
    lstm = nn.LSTM(1, 1)
    try:
        with torch.enable_grad(), torch.autocast("cpu", dtype=dtype):
            lstm(torch.zeros(1, 1, 1))
    except RuntimeError:
        return False
    return True


@contextmanager
def _autocast_without_onednn(dtype: torch.dtype) -> Iterator[None]:
    enabled = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.enabled = False
    try:
        with torch.autocast("cpu", dtype=dtype):
            yield
    finally:
        torch.backends.mkldnn.enabled = enabled
