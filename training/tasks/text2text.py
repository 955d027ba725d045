"""Training and evaluation of a text-to-text arithmetic model on a split of the 20,000 queries."""

import argparse
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import TensorDataset

from training import runtime
from training.data import arithmetic as ar
from training.devices import device_of
from training.export import WithSoftmax, export_onnx, parity, training_record, write_card
from training.launch import Launch, launch_for, timed
from training.models.seq2seq import ARCHITECTURES, count_parameters
from training.task import OneModelTask


@dataclass
class Config:
    """Everything that determines a run; stored whole in the model card."""

    arch: str = "place-value"
    train_fraction: float = 0.5
    split_seed: int = 0
    seed: int = 0
    epochs: int = 150
    batch_size: int = 128
    lr: float = 3e-3
    weight_decay: float = 0.3
    paddings: tuple[str, ...] = ar.PADDINGS
    answer_padding: str = "left"
    eval_every: int = 1
    curve_queries: int | None = None
    model: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def encode_split(queries: list[str], paddings: tuple[str, ...], answer_padding: str):
    """Tensors (x, y) holding every query once per padding."""
    x = np.concatenate([ar.encode(queries, ar.QUERY_LEN, side) for side in paddings])
    y = np.concatenate([ar.answer_ids(queries, answer_padding)] * len(paddings))
    return torch.from_numpy(x), torch.from_numpy(y)


@torch.no_grad()
def exact_match(model: nn.Module, queries: list[str], side: str, answer_padding: str) -> float:
    """Fraction of queries whose whole answer the model gets right, queries padded on ``side``."""
    model.eval()
    device = device_of(model)
    x, y = encode_split(queries, (side,), answer_padding)
    # in batches: the study's model read 19,000 queries at once at half the speed, in more memory
    predicted = torch.cat([model(part.to(device)).argmax(dim=-1).cpu() for part in x.split(1024)])
    return (predicted == y).all(dim=1).double().mean().item()


def evaluate(model: nn.Module, queries: list[str], config: Config) -> dict[str, float]:
    """Exact match per padding the model was trained on, and their mean."""
    scores = {
        f"exact_match_{side}_padded": exact_match(model, queries, side, config.answer_padding)
        for side in config.paddings
    }
    scores["exact_match"] = float(np.mean(list(scores.values())))
    return scores


class Text2Text(OneModelTask):
    """Every padding of every training query once per epoch; exact match on held-out queries.

    The per-epoch curve is measured on ``curve_queries`` held-out queries drawn once (all if
    None), to keep long sweeps affordable; :func:`fit` scores every held-out query at the end.
    """

    watch = "exact_match"

    def __init__(self, config: Config):
        super().__init__(config, f"{config.arch} {config.train_fraction:.0%}")
        self.train_q, self.test_q = ar.split(
            ar.all_queries(), config.train_fraction, config.split_seed
        )
        self.curve_q = self.test_q
        if config.curve_queries is not None and config.curve_queries < len(self.test_q):
            pick = np.random.default_rng(config.seed).choice(
                len(self.test_q), config.curve_queries, replace=False
            )
            self.curve_q = [self.test_q[i] for i in pick]

    def build(self) -> dict[str, nn.Module]:
        model = ARCHITECTURES[self.settings.arch](
            n_symbols=len(ar.SYMBOLS), answer_len=ar.ANSWER_LEN, **self.settings.model
        )
        return {"model": model}

    def dataset(self) -> TensorDataset:
        return TensorDataset(
            *encode_split(self.train_q, self.settings.paddings, self.settings.answer_padding)
        )

    def loss(self, model: nn.Module, batch: tuple) -> torch.Tensor:
        x, y = batch
        return F.cross_entropy(model(x).flatten(0, 1), y.flatten())

    def evaluate(self) -> dict[str, float]:
        return evaluate(self.model, self.curve_q, self.settings)


def fit(
    config: Config, launch: Launch | None = None
) -> tuple[nn.Module, list[dict], dict[str, float]]:
    """Train on the config's split; the model, one record per epoch, and the final scores on
    every held-out query."""
    task = Text2Text(config)
    history = (launch or Launch.local()).fit(task)
    return task.model, history, evaluate(task.model, task.test_q, config)


def build(config: Config, out: Path, command: str, launch: Launch) -> dict:
    """Train, export ``out/model.onnx`` and write its card (on rank 0; the others only train)."""
    (model, history, final), seconds = timed(lambda: fit(config, launch))
    if not launch.engine.is_main:
        return {}
    train_q, test_q = ar.split(ar.all_queries(), config.train_fraction, config.split_seed)
    example = {"query": torch.from_numpy(ar.encode(test_q[:8], ar.QUERY_LEN))}
    export_onnx(WithSoftmax(model), example, out / "model.onnx", output_names=["probs"])
    card = {
        "task": "text2text",
        "description": "Answers A+B and A-B for 0 <= A, B <= 99, e.g. '81+24' -> '105'.",
        "symbols": ar.SYMBOLS,
        "query_length": ar.QUERY_LEN,
        "answer_length": ar.ANSWER_LEN,
        "padding": {"query": "right", "answer": config.answer_padding},
        "trained_paddings": list(config.paddings),
        "architecture": config.arch,
        "parameters": count_parameters(model),
        "dataset": {
            "name": "arithmetic",
            "queries": len(ar.all_queries()),
            "split": {
                "train_fraction": config.train_fraction,
                "seed": config.split_seed,
                "train": len(train_q),
                "held_out": len(test_q),
                "held_out_sha256": ar.fingerprint(test_q),
            },
        },
        "training": training_record(command, config.to_dict(), seconds, history, launch.engine),
        "metrics": {
            **final,
            "held_out_queries": len(test_q),
            "onnx_parity_max_abs_diff": parity(
                WithSoftmax(model),
                out / "model.onnx",
                {"query": ar.encode(test_q[:512], ar.QUERY_LEN)},
            ),
        },
    }
    return write_card(out, card)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--arch", choices=sorted(ARCHITECTURES), default=Config.arch)
    runtime.add_config_flags(parser, Config, "train_fraction", "epochs", "seed", "batch_size")
    runtime.add_out_flag(parser, "exported/text2text")
    runtime.add_run_flags(parser, dry_run="at most 2 epochs of 2 batches")


def run(args: argparse.Namespace, command: str) -> None:
    config = runtime.config_from(args, Config)
    if args.dry_run:
        config = replace(config, epochs=min(config.epochs, 2), curve_queries=100)
    out = runtime.out_dir(args, runtime.REPO / "exported" / "text2text", "text2text")
    with launch_for(args, runtime.run_dir(args, "text2text")) as launch:
        card = build(config, out, command, launch)
    if card:
        print(f"exported {out}: held-out exact match {card['metrics']['exact_match']:.4f}")
