"""Training the models that read handwritten strips (:mod:`training.models.strip_readers`), and
exporting ours. Scored by :mod:`training.evaluation.strip_reading`.

Two things can be unseen at evaluation, and each gets its own measurement:

- handwriting: every evaluation strip is drawn from MNIST *test* digits and the *test* operator
  family, never trained on. The headline set holds ``eval_strips`` queries drawn from all 20,000
  (the service faces every query), half of them padded on the right, half on the left.
- queries: a ``train_fraction`` split of the queries (as in text2text) keeps some queries out of
  training altogether; ``unseen_queries_*`` scores are measured on test-handwriting strips of those
  only, so it shows whether the arithmetic generalises rather than being memorised per query.

Training strips are drawn afresh every epoch (new digit images, new operator drawings, and with
``augment`` new distortions), one per training query and epoch unless ``strips_per_epoch`` says.
"""

import argparse
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import Dataset

from training import runtime
from training.data import arithmetic as ar
from training.data.strip_variants import VARIANTS
from training.data.strips import TrainingStrips, pixels
from training.evaluation.strip_reading import evaluate, evaluation_sets, variant_sets
from training.launch import Launch, launch_for, timed
from training.models.strip_readers import ARCHITECTURES, Committee
from training.task import OneModelTask, held_out_scores
from training.tasks import image2text_export, text2text


@dataclass
class Config:
    """Everything that determines a run; stored whole in the model card."""

    arch: str = "ours"
    train_fraction: float = 0.9
    split_seed: int = 0
    seed: int = 0
    epochs: int = 30  # the shipped model; its held-out answer rose to the last epoch (0.9755 at 26)
    batch_size: int = 32  # 32 gives twice the steps of 64 at the same seconds per epoch on CPU
    lr: float = 3e-3
    weight_decay: float = 0.05
    paddings: tuple[str, ...] = ("right", "left")
    answer_padding: str = "left"
    augment: bool = True
    variants: tuple[str, ...] = VARIANTS  # ways of sending a strip, one drawn per training strip
    strips_per_epoch: int | None = None
    symbol_weight: float = 1.0
    eval_strips: int = 6000
    unseen_strips: int = 2000
    eval_seed: int = 1
    eval_variants: tuple[str, ...] = VARIANTS
    variant_strips: int = 2000
    eval_every: int = 10  # 18,000 held-out strips: scored every 10 epochs and at the end
    # Ours: its text solver first learns the training queries as text (text2text's recipe), then
    # stays fixed while the CNN learns to feed it; 0: learnt from scratch with the CNN.
    solver_epochs: int = 50
    # Readers trained apart and read as one (:class:`Committee`): member k is the run of seed
    # seed + k, trained as that run alone would be.
    members: int = 1
    model: dict = field(
        default_factory=lambda: {
            "channels": (32, 64, 128),
            "features": 256,
            "text_model": "place-value",
            "hard_symbols": True,
            "convs": 2,
            "views": 1,
        }
    )  # a wider and deeper cell CNN than the default: digits read wrong were most of the wrong
    # answers. Read once: 5 shifted views scored lower on this model (0.9827 against 0.9842).

    def to_dict(self) -> dict:
        return asdict(self)


def strips_per_epoch(config: Config, train_queries: int, max_batches: int | None) -> int:
    """Training strips drawn per epoch: one per training query unless the config says otherwise."""
    n = config.strips_per_epoch or train_queries
    return n if max_batches is None else min(n, max_batches * config.batch_size)


class Image2Text(OneModelTask):
    """Train on fresh strips every epoch; after every epoch, score the held-out strips.

    The loss is the cross-entropy of the answer plus ``symbol_weight`` times that of the cells'
    symbols, for whichever of the two the model outputs.
    """

    watch = "answer_exact_match"

    def __init__(self, config: Config, max_batches: int | None = None):
        super().__init__(config, config.arch + ("" if config.augment else " (no augmentation)"))
        queries = ar.all_queries()
        self.train_q, unseen_q = ar.split(queries, config.train_fraction, config.split_seed)
        self.held_out, self.unseen = evaluation_sets(config, unseen_q)
        self.variants = variant_sets(config, self.held_out)
        self.n = strips_per_epoch(config, len(self.train_q), max_batches)

        self.solver: nn.Module | None = None  # set by fit when the solver is trained first

    def build(self) -> dict[str, nn.Module]:
        model = ARCHITECTURES[self.settings.arch](**self.settings.model)
        if self.solver is not None:
            model.solver.load_state_dict(self.solver.state_dict())
            model.solver.requires_grad_(False)
        return {"model": model}

    def to_match(self, config: dict) -> dict:
        """Views say how the exported model reads, not how it trains: a resume may change them."""
        matched = super().to_match(config)
        model = {k: v for k, v in matched.get("model", {}).items() if k != "views"}
        return {**matched, "model": model}

    def dataset(self) -> Dataset:
        return TrainingStrips(self.train_q, self.n, self.settings)

    def loss(self, model: nn.Module, batch: tuple) -> torch.Tensor:
        strips, symbols, answers = batch
        out = model(pixels(strips))
        terms = []
        if "answer" in out:
            terms.append(F.cross_entropy(out["answer"].flatten(0, 1), answers.flatten()))
        if "symbols" in out:
            symbol_loss = F.cross_entropy(out["symbols"].flatten(0, 1), symbols.flatten())
            terms.append(self.settings.symbol_weight * symbol_loss)
        return sum(terms)

    def evaluate(self) -> dict[str, float]:
        return evaluate(self.model, self.held_out, self.unseen, self.variants, self.settings)


def fit(
    config: Config, launch: Launch | None = None
) -> tuple[nn.Module, list[dict], dict[str, float]]:
    """Train; returns the model, one record per epoch, and the final held-out scores (the last
    epoch's). A launch with ``max_batches`` draws only the strips it needs."""
    launch = launch or Launch.local()
    task = Image2Text(config, launch.max_batches)
    solved = {}
    if config.solver_epochs:
        task.solver, solved = train_solver(config, launch.part("solver"))
    history = launch.fit(task)
    return task.model, history, held_out_scores(history) | solved


def train_solver(config: Config, launch: Launch) -> tuple[nn.Module, dict[str, float]]:
    """Ours's place-value solver trained on the training queries as one-hot text, as text2text
    trains it; and its exact match on the queries held out of training, as ``solver_*``."""
    if config.arch != "ours" or config.model.get("text_model") != "place-value":
        raise ValueError("solver_epochs needs arch 'ours' with text_model 'place-value'")
    text = text2text.Config(
        train_fraction=config.train_fraction, split_seed=config.split_seed, seed=config.seed,
        epochs=config.solver_epochs, eval_every=config.solver_epochs, paddings=config.paddings,
        answer_padding=config.answer_padding, curve_queries=200,
        model=config.model.get("solver") or {},
    )  # fmt: skip
    solver, _, scores = text2text.fit(text, launch)
    return solver, {f"solver_{name}": value for name, value in scores.items()}


def train(config: Config, launch: Launch) -> tuple[nn.Module, list[list[dict]], dict[str, float]]:
    """Ours, or a :class:`Committee` of ``members`` readers trained apart (member ``k`` with seed
    ``seed + k``, its checkpoints in ``run_dir/member-k``, exactly as ``--seed`` would train it
    alone); returns the model, each member's epochs and the model's held-out scores."""
    if config.members == 1:
        model, history, final = fit(config, launch)
        return model, [history], final
    fitted = [
        fit(replace(config, seed=config.seed + k, members=1), launch.part(f"member-{k}"))
        for k in range(config.members)
    ]
    committee = Committee([model for model, _, _ in fitted])
    histories = [history for _, history, _ in fitted]
    if not launch.engine.is_main:
        return committee, histories, {}  # scored and exported by rank 0 alone
    _, unseen_q = ar.split(ar.all_queries(), config.train_fraction, config.split_seed)
    held_out, unseen = evaluation_sets(config, unseen_q)
    scores = evaluate(committee, held_out, unseen, variant_sets(config, held_out), config)
    solver = {k: v for k, v in fitted[0][2].items() if k.startswith("solver_")}  # the one used
    return committee, histories, scores | solver


def build(config: Config, out: Path, command: str, launch: Launch) -> dict:
    """Train ours (or a committee), export ``out/model.onnx`` and write its card (rank 0)."""
    (model, histories, final), seconds = timed(lambda: train(config, launch))
    if not launch.engine.is_main:
        return {}
    train_q, _ = ar.split(ar.all_queries(), config.train_fraction, config.split_seed)
    per_epoch = strips_per_epoch(config, len(train_q), launch.max_batches)
    return image2text_export.export(
        model, config, histories, final, seconds, per_epoch, out, command, launch
    )


DRY_RUN_STRIPS = {
    "eval_strips": 40,
    "unseen_strips": 20,
    "variant_strips": 20,
}  # held-out strips of a --dry-run


def dry_run(config: Config) -> Config:
    """What a --dry-run trains: at most 2 epochs (of the solver's text too) and a few held-out
    strips; the launch caps each epoch at 2 batches."""
    solver_epochs = min(config.solver_epochs, 2)
    return replace(config, epochs=min(config.epochs, 2), solver_epochs=solver_epochs,
                   **DRY_RUN_STRIPS)  # fmt: skip


def add_arguments(parser: argparse.ArgumentParser) -> None:
    runtime.add_config_flags(parser, Config, "epochs", "train_fraction", "seed", "batch_size")
    parser.add_argument(
        "--members",
        type=runtime.positive,
        default=Config.members,
        help="readers trained apart (seeds seed, seed+1, ...) and read as one, a committee; "
        "member k's checkpoints in RUN_DIR/member-k",
    )
    runtime.add_out_flag(parser, "exported/image2text")
    runtime.add_run_flags(parser, dry_run="at most 2 epochs of 2 batches, 40 held-out strips")


def run(args: argparse.Namespace, command: str) -> None:
    config = runtime.config_from(args, Config)
    if args.dry_run:
        config = dry_run(config)
    out = runtime.out_dir(args, runtime.REPO / "exported" / "image2text", "image2text")
    with launch_for(args, runtime.run_dir(args, "image2text")) as launch:
        card = build(config, out, command, launch)
    if card:
        metrics = card["metrics"]
        print(
            f"exported {out}: held-out answer exact match {metrics['answer_exact_match']:.4f}, "
            f"expression {metrics['expression_exact_match']:.4f}"
        )
