"""The loaded models: every `exported/<name>/` with a card, checked against its ONNX file at start.

A card that disagrees with its ONNX file stops the service from starting, with a message naming
the folder and the mismatch: serving a model under a wrong description would fail per request,
or worse, silently answer wrong.
"""

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from service.arithmetic import TextCodec
from service.images import StripShape

REQUIRED_FIELDS = ("name", "task", "onnx", "sha256", "inputs", "outputs")
# onnxruntime's type strings, spelled as the card (numpy) spells them.
_ORT_DTYPES = {
    "tensor(float)": "float32",
    "tensor(double)": "float64",
    "tensor(float16)": "float16",
    "tensor(int64)": "int64",
    "tensor(int32)": "int32",
    "tensor(uint8)": "uint8",
    "tensor(bool)": "bool",
}


class CardError(ValueError):
    """A model folder whose card is unusable or disagrees with its ONNX file."""

    def __init__(self, folder: Path, problem: str) -> None:
        super().__init__(f"model folder {folder}: {problem}")


class UnknownModelError(LookupError):
    """A client asked for a model name that is not loaded (for the task); becomes a 404."""

    def __init__(self, name: str, task: str, available: Sequence[str]) -> None:
        names = ", ".join(available) or "none"
        super().__init__(f"unknown {task} model {name!r}; available {task} models: {names}")


class NotReadyError(RuntimeError):
    """Models are not loaded (starting, stopping, or none for the task); becomes a 503."""


@dataclass(frozen=True)
class LoadedModel:
    """A model ready to run. Its runs block: call them off the event loop, in an inference slot
    (`service.slots`)."""

    name: str
    task: str
    card: dict[str, Any]
    session: ort.InferenceSession
    encoder: ort.InferenceSession | None = None  # a VAE's images-to-latents graph, if exported
    codec: TextCodec | None = None  # a text model's symbol table, built once at load

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        return self.session.run(None, feeds)

    def run_encoder(self, outputs: list[str], feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        if self.encoder is None:
            raise ValueError(f"model {self.name!r} has no encoder")
        return self.encoder.run(outputs, feeds)


TEXT_TASKS = ("text2text", "text2image")  # models that read queries as symbols


# Task-specific card checks beyond the generic ones; each raises ValueError.
def _check_text2text(card: dict[str, Any]) -> None:
    codec = TextCodec.from_card(card)
    _expect("inputs[0].shape", card["inputs"][0]["shape"], codec.input_shape())
    _expect("outputs[0].shape", card["outputs"][0]["shape"], codec.output_shape())


def _check_image2text(card: dict[str, Any]) -> None:
    width, height = StripShape.from_card(card).size
    n_symbols, specs = len(card["symbols"]), {s["name"]: s["shape"] for s in card["outputs"]}
    _expect("inputs[0].shape", card["inputs"][0]["shape"], ["batch", 1, height, width])
    _expect("outputs", sorted(specs), ["answer", "symbols"])
    _expect("outputs answer shape", specs["answer"], ["batch", card["answer_length"], n_symbols])
    _expect("outputs symbols shape", specs["symbols"], ["batch", card["query_length"], n_symbols])


def _check_text2image(card: dict[str, Any]) -> None:
    codec = TextCodec.from_card(card)
    width, height = card["cell"]["width"] * card["cell"]["cells"], card["cell"]["height"]
    inputs = {s["name"]: s["shape"] for s in card["inputs"]}
    outputs = {s["name"]: s["shape"] for s in card["outputs"]}
    _expect(
        "inputs",
        inputs,
        {"query": codec.input_shape(), "style": ["batch", card["style"]["latent"]]},
    )
    _expect(
        "outputs",
        outputs,
        {"image": ["batch", 1, height, width], "cells": ["batch", card["cell"]["cells"]]},
    )
    _expect("cell_symbols length", len(card["cell_symbols"]), 12)


def _check_generator(card: dict[str, Any]) -> None:
    image, latent = card["image"], ["batch", card["latent"]]
    _expect("inputs", card["inputs"], [{"name": "z", "dtype": "float32", "shape": latent}])
    shape = ["batch", image["channels"], image["size"], image["size"]]
    _expect("outputs[0].shape", card["outputs"][0]["shape"], shape)
    _expect("image channels", image["channels"] in (1, 3), True)
    if "encoder" in card:
        encoder = card["encoder"]
        _expect("encoder inputs", encoder["inputs"],
                [{"name": "images", "dtype": "float32", "shape": shape}])  # fmt: skip
        # [mean]; folders exported before the log-variance was dropped add log_var
        mean, log_var = ({"name": n, "dtype": "float32", "shape": latent}
                         for n in ("mean", "log_var"))  # fmt: skip
        expected = [mean, log_var] if len(encoder["outputs"]) == 2 else [mean]
        _expect("encoder outputs", encoder["outputs"], expected)


TASK_CHECKS: dict[str, Callable[[dict[str, Any]], None]] = {
    "gan": _check_generator,
    "vae": _check_generator,
    "text2text": _check_text2text,
    "image2text": _check_image2text,
    "text2image": _check_text2image,
}


CPU = ("CPUExecutionProvider",)


def session_options(intra_op_threads: int) -> ort.SessionOptions:
    """Options for every session: full graph optimisation (LSTMs are 3-5x slower without)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = intra_op_threads
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return options


class Registry:
    """Models by name. Empty and not ready until `load`; `close` makes it not ready again."""

    def __init__(self) -> None:
        self._models: dict[str, LoadedModel] = {}
        self.ready = False

    def load(
        self, models_dir: Path, intra_op_threads: int, providers: tuple[str, ...] = CPU
    ) -> None:
        """Load, check and warm up every model folder; raise CardError on the first bad one."""
        if not models_dir.is_dir():
            raise CardError(models_dir, "models directory does not exist")
        folders = sorted(p.parent for p in models_dir.glob("*/card.json"))
        if not folders:
            raise CardError(models_dir, "no model folders (<name>/card.json) found")
        options = session_options(intra_op_threads)
        self._models = {folder.name: load_model(folder, options, providers) for folder in folders}
        self.ready = True

    def close(self) -> None:
        self.ready = False
        self._models = {}

    def models(self) -> list[LoadedModel]:
        return list(self._models.values())

    def get(self, task: str | tuple[str, ...], name: str | None = None) -> LoadedModel:
        """The model `name` of `task` (or of any of several tasks); by default the one named
        after the (first) task, else the first loaded."""
        if not self.ready:
            raise NotReadyError("models are not loaded yet")
        tasks = (task,) if isinstance(task, str) else task
        label = " or ".join(tasks)
        candidates = {n: m for n, m in self._models.items() if m.task in tasks}
        if name is None:
            if not candidates:
                raise NotReadyError(f"no {label} model is loaded")
            name = next((t for t in tasks if t in candidates), next(iter(candidates)))
        if name not in candidates:
            raise UnknownModelError(name, label, list(candidates))
        return candidates[name]


def load_model(
    folder: Path, options: ort.SessionOptions, providers: tuple[str, ...] = CPU
) -> LoadedModel:
    """Read the card, check it against the ONNX file, create the session and warm it up."""
    try:
        card = json.loads((folder / "card.json").read_text(encoding="utf-8"))
        missing = [f for f in REQUIRED_FIELDS if f not in card]
        if missing:
            raise ValueError(f"card.json lacks {', '.join(missing)}")
        _expect("card name", card["name"], folder.name)
        session = _open_session(folder, card, options, providers)
        if card["task"] in TASK_CHECKS:
            TASK_CHECKS[card["task"]](card)
        encoder = (
            _open_session(folder, card["encoder"], options, providers)
            if "encoder" in card
            else None
        )
    except Exception as exc:  # onnxruntime's errors derive from Exception alone; name the folder
        raise CardError(folder, str(exc)) from exc
    codec = TextCodec.from_card(card) if card["task"] in TEXT_TASKS else None
    return LoadedModel(card["name"], card["task"], card, session, encoder, codec)


def _open_session(
    folder: Path, spec: dict[str, Any], options: ort.SessionOptions, providers: tuple[str, ...]
) -> ort.InferenceSession:
    """The session of the ONNX file ``spec`` describes (its onnx, sha256, inputs, outputs),
    checked against the file and warmed up."""
    onnx_path = folder / spec["onnx"]
    with onnx_path.open("rb") as file:
        digest = hashlib.file_digest(file, "sha256").hexdigest()
    _expect(f"sha256 of {spec['onnx']}", digest, spec["sha256"])
    session = ort.InferenceSession(str(onnx_path), options, providers=list(providers))
    _check_tensors("inputs", spec["inputs"], session.get_inputs())
    _check_tensors("outputs", spec["outputs"], session.get_outputs())
    _warm_up(session, spec)
    return session


def _expect(what: str, actual: object, expected: object) -> None:
    if actual != expected:
        raise ValueError(f"{what} is {actual!r}, expected {expected!r}")


def _check_tensors(kind: str, card_specs: list[dict[str, Any]], ort_args: list[Any]) -> None:
    """Names in order, dtypes, and shapes: an int must match exactly, "batch" a dynamic dim."""
    _expect(f"ONNX {kind} names", [a.name for a in ort_args], [s["name"] for s in card_specs])
    for spec, arg in zip(card_specs, ort_args, strict=True):
        where = f"{kind} {spec['name']!r}"
        _expect(f"ONNX dtype of {where}", _ORT_DTYPES.get(arg.type, arg.type), spec["dtype"])
        onnx_shape = ["batch" if not isinstance(d, int) else d for d in arg.shape]
        _expect(f"ONNX shape of {where} (dynamic dims shown as 'batch')", onnx_shape, spec["shape"])


def _warm_up(session: ort.InferenceSession, spec: dict[str, Any]) -> None:
    """One batch-1 run of zeros, so the first request does not pay for lazy initialisation."""
    feeds = {
        arg["name"]: np.zeros([1 if d == "batch" else d for d in arg["shape"]], arg["dtype"])
        for arg in spec["inputs"]
    }
    for arg, out in zip(spec["outputs"], session.run(None, feeds), strict=True):
        expected = [1 if d == "batch" else d for d in arg["shape"]]
        _expect(f"warm-up output {arg['name']!r} shape", list(out.shape), expected)
