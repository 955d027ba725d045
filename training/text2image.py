"""Training the handwriting writers (``cell_models``) and grading them with the judge.

The cell decoder learns to draw each of the 12 cell symbols from MNIST *train* digits, train-family
minus glyphs and black blanks, under one of two objectives: a conditional GAN (``fit_gan``) or a
conditional VAE (``fit_cvae``). The speller is the text model, trained on a split of the queries.
Every score here comes from the judge (:mod:`training.judge`), which none of these ever train on.
"""

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from torch import nn
from torch.nn import functional as F
from tqdm import tqdm

from training import arithmetic as ar
from training.cell_models import (
    BLANK_CLASS,
    CELL,
    N_CLASSES,
    CellCritic,
    CellDecoder,
    CellEncoder,
    StudyRenderer,
)
from training.cells import CELL_SYMBOLS, labelled_cells
from training.export import REPO
from training.judge import Config as JudgeConfig
from training.judge import fit as fit_judge
from training.loop import train
from training.strips import make_strips

JUDGE = REPO / "reports" / "judge" / "model.onnx"


@dataclass
class Config:
    """Everything that determines a cell decoder's training; stored whole in the card."""

    objective: str = "gan"  # "cvae", or "study" (the baseline; reads only the schedule fields)
    epochs: int = 12
    batch_size: int = 64
    lr: float = 2e-4
    latent: int = 32
    width: int = 64
    class_weight: float = 1.0  # GAN: weight of the critic's class loss in the generator's loss
    teacher_weight: float = 1.0  # GAN: weight of a frozen teacher classifier's loss (0: no teacher)
    beta: float = 1.0  # cVAE: weight of the KL term
    extra_cells: int = 6000  # minus and blank training cells, next to 60,000 MNIST train digits
    seed: int = 0
    eval_every: int = 1
    weight_decay: float = 0.0
    model: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


class Judge:
    """The judge's ONNX file, run with onnxruntime: cells in, judged symbol indices out."""

    def __init__(self, path: Path = JUDGE):
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing; build it with `python -m training judge`")
        self.session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])

    def __call__(self, cells: np.ndarray) -> np.ndarray:
        """Cells ``float32 [n, 28, 28]`` in 0..1 -> indices into CELL_SYMBOLS ``[n]``."""
        x = np.ascontiguousarray(cells, np.float32).reshape(-1, 1, CELL, CELL)
        return np.concatenate(
            [self.session.run(None, {"cells": x[i : i + 2000]})[0].argmax(-1)
             for i in range(0, len(x), 2000)]
        )  # fmt: skip


def one_hot(labels: torch.Tensor) -> torch.Tensor:
    return F.one_hot(labels, N_CLASSES).float()


def training_cells(config: Config) -> tuple[torch.Tensor, torch.Tensor]:
    """What the decoder learns from: float32 cells ``[n, 1, 28, 28]`` and their labels."""
    cells, labels = labelled_cells(
        "train", np.random.default_rng(config.seed), config.extra_cells, ("train",), blank_noise=0
    )
    return torch.from_numpy(cells).unsqueeze(1).float() / 255, torch.from_numpy(labels)


def epoch_batches(data, config: Config, epoch: int, max_batches: int | None) -> Iterator[tuple]:
    cells, labels = data
    order = torch.from_numpy(np.random.default_rng([config.seed, epoch]).permutation(len(cells)))
    steps = len(cells) // config.batch_size if max_batches is None else max_batches
    for step in range(steps):
        at = order[step * config.batch_size : (step + 1) * config.batch_size]
        yield cells[at], labels[at]


@torch.no_grad()
def draw_classes(decoder: CellDecoder, per_class: int, seed: int) -> np.ndarray:
    """``per_class`` cells of every class from seeded latents: ``[12, per_class, 28, 28]``."""
    decoder.eval()
    z = torch.randn(
        N_CLASSES * per_class, decoder.latent, generator=torch.Generator().manual_seed(seed)
    )
    labels = torch.arange(N_CLASSES).repeat_interleave(per_class)
    return decoder(z, one_hot(labels)).view(N_CLASSES, per_class, CELL, CELL).numpy()


def spread(cells: np.ndarray) -> float:
    """Mean pairwise Euclidean distance between cells ``[n, 28, 28]`` (pixels in 0..1)."""
    flat = cells.reshape(len(cells), -1).astype(np.float64)
    squared = (flat**2).sum(1)
    d = np.sqrt(np.maximum(squared[:, None] + squared[None] - 2 * flat @ flat.T, 0))
    return float(d[np.triu_indices(len(cells), k=1)].mean())


def grade_decoder(decoder: CellDecoder, judge: Judge, per_class: int = 200, seed: int = 1) -> dict:
    """The judge's accuracy on drawn cells of each class; how varied each digit's drawings are."""
    drawn = draw_classes(decoder, per_class, seed)
    verdicts = judge(drawn.reshape(-1, CELL, CELL)).reshape(N_CLASSES, per_class)
    right = verdicts == np.arange(N_CLASSES)[:, None]
    return {
        "judged_right": float(right.mean()),
        "judged_right_digits": float(right[:10].mean()),
        "judged_blank_blank": float(right[BLANK_CLASS].mean()),
        "digit_spread": float(np.mean([spread(drawn[d, :100]) for d in range(10)])),
    }


def make_teacher(config: Config, progress: bool, max_batches: int | None) -> nn.Module:
    """A frozen cell classifier that tells the generator which symbol a drawing looks like.

    It is trained here, on the generator's own data sources, with its own seed and half the judge's
    width: a different network from the judge, which must never take part in training.
    """
    teacher_config = JudgeConfig(epochs=2, seed=config.seed + 100, width=16)
    teacher, _, _ = fit_judge(teacher_config, progress=progress, max_batches=max_batches)
    for parameter in teacher.parameters():
        parameter.requires_grad_(False)
    return teacher.eval()


def fit_gan(
    config: Config, judge: Judge | None, progress: bool = True, max_batches=None, on_epoch=None
):
    """Conditional GAN: non-saturating loss, projection critic with an auxiliary class head."""
    torch.manual_seed(config.seed)
    data = training_cells(config)
    decoder = CellDecoder(config.latent, config.width)
    critic = CellCritic(config.width)
    betas = (0.5, 0.999)
    opt_g = torch.optim.Adam(decoder.parameters(), lr=config.lr, betas=betas)
    opt_d = torch.optim.Adam(critic.parameters(), lr=config.lr, betas=betas)
    teacher = make_teacher(config, progress, max_batches) if config.teacher_weight else None
    history = []
    for epoch in tqdm(range(1, config.epochs + 1), desc="cell GAN", disable=not progress):
        decoder.train()
        totals, steps = np.zeros(2), 0
        for real, labels in epoch_batches(data, config, epoch, max_batches):
            wanted = labels[torch.randperm(len(labels))]  # fakes follow the data's class mix
            fake = decoder(torch.randn(len(labels), config.latent), one_hot(wanted))
            score_real, class_real = critic(real, labels)
            score_fake, _ = critic(fake.detach(), wanted)
            loss_d = (
                F.softplus(-score_real).mean()
                + F.softplus(score_fake).mean()
                + F.cross_entropy(class_real, labels)
            )
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
            score, classes = critic(fake, wanted)
            loss_g = F.softplus(-score).mean() + config.class_weight * F.cross_entropy(
                classes, wanted
            )
            if teacher is not None:
                loss_g = loss_g + config.teacher_weight * F.cross_entropy(teacher(fake), wanted)
            opt_g.zero_grad()
            loss_g.backward()
            opt_g.step()
            totals, steps = totals + (loss_d.item(), loss_g.item()), steps + 1
        record = {"epoch": epoch, "loss": totals[1] / steps, "loss_critic": totals[0] / steps}
        if judge is not None and (epoch % config.eval_every == 0 or epoch == config.epochs):
            record.update(grade_decoder(decoder, judge))
        history.append(record)
        if on_epoch:
            on_epoch(record)
    return decoder.eval(), history


class CVAE(nn.Module):
    """Encoder and decoder of the conditional VAE, trained together by :func:`fit_cvae`."""

    def __init__(self, latent: int, width: int):
        super().__init__()
        self.encoder = CellEncoder(latent, width)
        self.decoder = CellDecoder(latent, width)


def cvae_loss(beta: float):
    """Per-cell summed BCE reconstruction plus ``beta`` times the KL to N(0, I), batch mean."""

    def loss(model: CVAE, batch: tuple) -> torch.Tensor:
        cells, labels = batch
        classes = one_hot(labels)
        mean, log_var = model.encoder(cells, classes)
        z = mean + torch.randn_like(mean) * (0.5 * log_var).exp()
        recon = F.binary_cross_entropy(model.decoder(z, classes), cells, reduction="sum")
        kl = -0.5 * (1 + log_var - mean**2 - log_var.exp()).sum()
        return (recon + beta * kl) / len(cells)

    return loss


def fit_cvae(
    config: Config, judge: Judge | None, progress: bool = True, max_batches=None, on_epoch=None
):
    """Conditional VAE on the same cells, with the shared loop (AdamW, one-cycle)."""
    torch.manual_seed(config.seed)
    data = training_cells(config)
    model = CVAE(config.latent, config.width)
    steps = len(data[0]) // config.batch_size if max_batches is None else max_batches
    history = train(
        model,
        config,
        steps,
        lambda epoch: epoch_batches(data, config, epoch, max_batches),
        loss=cvae_loss(config.beta),
        evaluate=lambda m: grade_decoder(m.decoder, judge) if judge else {},
        desc="cell cVAE",
        watch="judged_right",
        progress=progress,
        on_epoch=on_epoch,
    )
    return model.decoder.eval(), history


def answer_targets(queries: list[str], rng: np.random.Generator) -> torch.Tensor:
    """Handwritten answers ``[n, 3, 28, 28]`` in 0..1, left-aligned: the baseline's pixel targets.

    Strips of the answers (MNIST train digits, train-family minus) cut to their first three cells.
    """
    strips, _ = make_strips([ar.answer(q) for q in queries], "train", rng, ("right",))
    cells = strips[:, :, : ar.ANSWER_LEN * CELL].reshape(len(queries), CELL, ar.ANSWER_LEN, CELL)
    return torch.from_numpy(cells.transpose(0, 2, 1, 3).copy()).float() / 255


def fit_study(
    config: Config, judge: Judge | None, progress: bool = True, max_batches=None, on_epoch=None
):
    """The study's baseline: query -> pixels with a per-pixel loss, on the training queries.

    Each epoch pairs every training query with fresh handwriting of its answer; a model that can
    only minimise pixel error learns the average of those, which is what the study saw.
    """
    torch.manual_seed(config.seed)
    train_q, held_out = ar.split(ar.all_queries(), 0.9, 0)
    model = StudyRenderer()
    n = len(train_q) if max_batches is None else max_batches * config.batch_size
    steps = -(-n // config.batch_size)
    graded = held_out[:: max(1, len(held_out) // 1000)]

    def batches(epoch: int) -> Iterator[tuple]:
        rng = np.random.default_rng([config.seed, epoch])
        picked = [train_q[i] for i in rng.permutation(len(train_q))[:n]]
        x = torch.from_numpy(ar.encode(picked, ar.QUERY_LEN, "right"))
        y = answer_targets(picked, rng)
        for step in range(steps):
            at = slice(step * config.batch_size, (step + 1) * config.batch_size)
            yield x[at], y[at]

    def evaluate(m: nn.Module) -> dict:
        with torch.no_grad():
            cells = m.eval()(torch.from_numpy(ar.encode(graded, ar.QUERY_LEN, "right")))
        images = cells.permute(0, 2, 1, 3).reshape(len(graded), CELL, -1).numpy()
        return grade_renders(images, graded, judge) if judge else {}

    history = train(
        model,
        config,
        steps,
        batches,
        loss=lambda m, b: F.binary_cross_entropy(m(b[0]), b[1]),
        evaluate=evaluate,
        desc="study baseline",
        watch="character_accuracy",
        progress=progress,
        on_epoch=on_epoch,
    )
    return model.eval(), history


OBJECTIVES = {"gan": fit_gan, "cvae": fit_cvae, "study": fit_study}
DEFAULTS = {  # each objective's own schedule
    "gan": Config(objective="gan", epochs=8),
    "cvae": Config(objective="cvae", lr=2e-3),
    "study": Config(objective="study", epochs=10, lr=1e-3),
}


def answers_as_cells(queries: list[str]) -> np.ndarray:
    """The cell classes an answer is written with, left-aligned: ``[n, 3]``."""
    texts = [ar.answer(q).ljust(ar.ANSWER_LEN) for q in queries]
    return np.array([[CELL_SYMBOLS.index(c) for c in t] for t in texts])


def grade_renders(images: np.ndarray, queries: list[str], judge: Judge) -> dict[str, float]:
    """The judge's verdict on rendered answers ``[n, 28, 84]`` of ``queries``."""
    cells = images.reshape(len(images), CELL, ar.ANSWER_LEN, CELL).transpose(0, 2, 1, 3)
    verdicts = judge(cells.reshape(-1, CELL, CELL)).reshape(len(images), ar.ANSWER_LEN)
    truth = answers_as_cells(queries)
    used = truth != BLANK_CLASS
    right = verdicts == truth
    return {
        "character_accuracy": float(right[used].mean()),
        "answer_exact_match": float(right.all(axis=1).mean()),
        "unused_cells_blank": float(right[~used].mean()),
    }
