"""ONNX export and model cards: the only things that cross from training to the service."""

import datetime as dt
import hashlib
import json
import subprocess
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import nn

from training.engine import Engine
from training.runtime import REPO


class WithSoftmax(nn.Module):
    """The exported form of a classifier: probabilities over its classes instead of logits."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x).softmax(dim=-1)


def export_onnx(
    module: nn.Module,
    example: dict[str, torch.Tensor],
    path: Path,
    output_names: list[str],
) -> None:
    """Export ``module`` in eval mode, a dynamic batch axis on every input, weights in the file.

    ``example`` names the inputs in the order ``forward`` takes them.
    """
    module.eval()
    batch = torch.export.Dim("batch", min=1, max=65536)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(
        module,
        args=tuple(example.values()),
        f=str(path),
        dynamo=True,
        external_data=False,
        input_names=list(example),
        output_names=output_names,
        dynamic_shapes=tuple({0: batch} for _ in example),
        verbose=False,
    )


def parity(module: nn.Module, path: Path, inputs: dict[str, np.ndarray]) -> float:
    """Largest absolute difference between ``module`` in torch and its ONNX file, any output."""
    with torch.no_grad():
        expected = module.eval()(*(torch.from_numpy(v) for v in inputs.values()))
    if isinstance(expected, torch.Tensor):
        expected = (expected,)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, inputs)
    return max(float(np.abs(e.numpy() - g).max()) for e, g in zip(expected, got, strict=True))


def training_record(
    command: str, config: dict, seconds: float, history: list[dict], engine: Engine
) -> dict:
    """The card's ``training`` section: how to rebuild the model, what the build cost, and where
    it ran (device, precision, processes; the global batch is the per-process one x processes)."""
    # A resumed run's own process saw only its last epochs; the history keeps every epoch's time.
    epochs_seconds = sum(entry.get("seconds", 0.0) for entry in history)
    record = {
        "command": command,
        "config": config,
        "seconds": round(max(seconds, epochs_seconds), 1),
        "torch": torch.__version__,
        "runtime": engine.describe(),
        "final_loss": history[-1]["loss"],
        "schedule": schedule_segments(history),
    }
    if "batch_size" in config:
        record["global_batch_size"] = config["batch_size"] * engine.world_size
    return record


def schedule_segments(history: list[dict]) -> list[dict]:
    """Which epochs ran under a schedule of how many: one segment, unless a resume with more
    epochs extended the run (its schedule then went on as if planned that long from the start)."""
    segments: list[dict] = []
    for record in history:
        plan = record.get("planned_epochs")
        if segments and segments[-1]["planned_epochs"] == plan:
            segments[-1]["last_epoch"] = record["epoch"]
        else:
            segments.append({"first_epoch": record["epoch"], "last_epoch": record["epoch"],
                             "planned_epochs": plan})  # fmt: skip
    return segments


def io_spec(path: Path) -> tuple[list[dict], list[dict]]:
    """Inputs and outputs as the ONNX file declares them (dynamic dims become "batch")."""
    graph = onnx.load(str(path), load_external_data=False).graph

    def describe(value) -> dict:
        tensor = value.type.tensor_type
        shape = [d.dim_value if d.HasField("dim_value") else "batch" for d in tensor.shape.dim]
        dtype = onnx.helper.tensor_dtype_to_np_dtype(tensor.elem_type).name
        return {"name": value.name, "dtype": dtype, "shape": shape}

    return [describe(v) for v in graph.input], [describe(v) for v in graph.output]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def code_version() -> dict:
    """The commit the artifact was built from, and whether the work tree had uncommitted changes."""

    def git(*args: str) -> str | None:
        done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else None

    # Build outputs (exported/, reports/) are not code: writing them must not mark the build dirty.
    changes = git("status", "--porcelain", "--", ".", ":!exported", ":!reports")
    return {"commit": git("rev-parse", "HEAD"), "dirty": bool(changes)}


def onnx_record(path: Path) -> dict:
    """What a card says of one ONNX file: its name, sha256, inputs and outputs."""
    inputs, outputs = io_spec(path)
    return {"onnx": path.name, "sha256": sha256(path), "inputs": inputs, "outputs": outputs}


def write_card(folder: Path, card: dict) -> dict:
    """Complete ``card`` with what ``model.onnx`` says (io, sha256) and provenance; save it."""
    full = {
        "name": folder.name,
        "format_version": 1,
        **onnx_record(folder / "model.onnx"),
        **card,
        "code_version": code_version(),
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    (folder / "card.json").write_text(json.dumps(full, indent=2) + "\n")
    return full


def add_metrics(folder: Path, scores: dict) -> dict:
    """Merge ``scores`` into the metrics of ``folder/card.json`` (a measurement made later)."""
    path = folder / "card.json"
    card = json.loads(path.read_text())
    card["metrics"].update(scores)
    path.write_text(json.dumps(card, indent=2) + "\n")
    return card
