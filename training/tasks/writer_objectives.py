"""How the handwriting writers (:mod:`training.models.cell_writers`) learn: the objectives.

The cell decoder learns to draw each of the 12 cell symbols from MNIST *train* digits, train-family
minus glyphs and black blanks, under one of two objectives: a conditional GAN (:class:`CellGAN`)
or a conditional VAE (:class:`CellCVAE`). The study's baseline (:class:`StudyWriter`) maps queries
straight to pixels. Every score comes from the glyph judge (:mod:`training.evaluation.glyph_judge`),
which none of them train on. :mod:`training.tasks.text2image` composes a writer with its speller
and exports them.
"""

from dataclasses import asdict, dataclass, field

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import Dataset

from training.data import arithmetic as ar
from training.data.cells import AnswerHandwriting, training_cells
from training.evaluation.glyph_judge import GlyphJudge, grade_renders
from training.evaluation.writers import class_samples, grade_decoder, study_images
from training.launch import Launch
from training.models.cell_writers import CVAE, CellCritic, CellDecoder, StudyRenderer, one_hot
from training.models.generators import (
    discriminator_loss,
    generator_loss,
    kl_divergence,
    reparameterise,
)
from training.task import OneModelTask, Task, Update
from training.tasks.judge import Config as JudgeConfig
from training.tasks.judge import fit as fit_judge


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


def make_teacher(config: Config, launch: Launch) -> nn.Module:
    """A frozen cell classifier that tells the generator which symbol a drawing looks like.

    It is trained here, on the generator's own data sources, with its own seed and half the judge's
    width: a different network from the judge, which must never take part in training.
    """
    # scored once, at the end, for the log only: on 1,200 held-out cells, not the judge's 12,000
    # (10 s of a dry run); its scores take no part in training, so the writer stays the same
    teacher_config = JudgeConfig(
        epochs=2, seed=config.seed + 100, width=16, eval_every=2,
        held_out_digits=1000, held_out_extra=100,
    )  # fmt: skip
    teacher, _, _ = fit_judge(teacher_config, launch, name="teacher")
    for parameter in teacher.parameters():
        parameter.requires_grad_(False)
    return teacher.eval()


class CellGAN(Task):
    """Conditional GAN: non-saturating loss, projection critic with an auxiliary class head."""

    name = "cell GAN"
    drop_last = True
    watch = "judged_right"

    def __init__(self, config: Config, judge: GlyphJudge | None, teacher: nn.Module | None):
        self.settings, self.judge, self.teacher = config, judge, teacher
        self.seed, self.batch_size = config.seed, config.batch_size
        self.epochs, self.eval_every = config.epochs, config.eval_every

    def build(self) -> dict[str, nn.Module]:
        models = {"decoder": CellDecoder(self.settings.latent, self.settings.width),
                  "critic": CellCritic(self.settings.width)}  # fmt: skip
        return models if self.teacher is None else {**models, "teacher": self.teacher}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        lr, betas = self.settings.lr, (0.5, 0.999)
        return {
            name: torch.optim.Adam(self.models[name].parameters(), lr, betas=betas)
            for name in ("decoder", "critic")
        }

    def dataset(self) -> Dataset:
        return training_cells(self.settings.seed, self.settings.extra_cells)

    def step(self, nets: dict[str, nn.Module], batch: tuple, update: Update) -> dict[str, float]:
        real, labels = batch
        decoder, critic = nets["decoder"], nets["critic"]
        wanted = labels[torch.randperm(len(labels), device=labels.device)]  # the data's class mix
        z = torch.randn(len(labels), self.settings.latent, device=labels.device)
        fake = decoder(z, one_hot(wanted))
        score_real, class_real = critic(real, labels)
        score_fake, _ = critic(fake.detach(), wanted)
        loss_d = update("critic", discriminator_loss(score_real, score_fake)
                        + F.cross_entropy(class_real, labels))  # fmt: skip
        score, classes = critic(fake, wanted)
        loss_g = generator_loss(score)
        loss_g = loss_g + self.settings.class_weight * F.cross_entropy(classes, wanted)
        if self.teacher is not None:
            loss_g = loss_g + self.settings.teacher_weight * F.cross_entropy(
                self.models["teacher"](fake), wanted
            )
        return {"loss": update("decoder", loss_g), "loss_critic": loss_d}

    def evaluate(self) -> dict[str, float]:
        return grade_decoder(self.models["decoder"], self.judge) if self.judge else {}

    def images(self) -> torch.Tensor:
        return class_samples(self.models["decoder"])

    def config(self) -> dict:
        return self.settings.to_dict()


class CellCVAE(OneModelTask):
    """Conditional VAE on the same cells: per-cell summed BCE plus ``beta`` x KL, batch mean."""

    drop_last = True
    watch = "judged_right"

    def __init__(self, config: Config, judge: GlyphJudge | None):
        super().__init__(config, "cell cVAE")
        self.judge = judge

    def build(self) -> dict[str, nn.Module]:
        return {"model": CVAE(self.settings.latent, self.settings.width)}

    def dataset(self) -> Dataset:
        return training_cells(self.settings.seed, self.settings.extra_cells)

    def loss(self, model: nn.Module, batch: tuple) -> torch.Tensor:
        cells, labels = batch
        classes = one_hot(labels)
        mean, log_var = model.encoder(cells, classes)
        decoded = model.decoder(reparameterise(mean, log_var), classes)
        recon = F.binary_cross_entropy(decoded, cells, reduction="sum")
        return (recon + self.settings.beta * kl_divergence(mean, log_var)) / len(cells)

    def evaluate(self) -> dict[str, float]:
        return grade_decoder(self.model.decoder, self.judge) if self.judge else {}

    def images(self) -> torch.Tensor:
        return class_samples(self.model.decoder)


class StudyWriter(OneModelTask):
    """The study's baseline: query -> pixels with a per-pixel loss, on the training queries.

    Each epoch pairs every training query with fresh handwriting of its answer; a model that can
    only minimise pixel error learns the average of those, which is what the study saw.
    """

    watch = "character_accuracy"

    def __init__(self, config: Config, judge: GlyphJudge | None):
        super().__init__(config, "study baseline")
        self.judge = judge
        self.train_q, held_out = ar.split(ar.all_queries(), 0.9, 0)
        self.graded = held_out[:: max(1, len(held_out) // 1000)]

    def build(self) -> dict[str, nn.Module]:
        return {"model": StudyRenderer()}

    def dataset(self) -> Dataset:
        return AnswerHandwriting(self.train_q, self.settings.seed)

    def loss(self, model: nn.Module, batch: tuple) -> torch.Tensor:
        return F.binary_cross_entropy(model(batch[0]), batch[1])

    def evaluate(self) -> dict[str, float]:
        if self.judge is None:
            return {}
        return grade_renders(study_images(self.model, self.graded), self.graded, self.judge)


def fit_writer(
    config: Config, judge: GlyphJudge | None, launch: Launch | None = None
) -> tuple[nn.Module, list[dict]]:
    """Train the config's objective: the cell decoder (or the baseline's whole model) and its
    history. The GAN's teacher trains first (its checkpoints in ``run_dir/teacher``)."""
    launch = launch or Launch.local()
    if config.objective == "gan":
        teacher = make_teacher(config, launch.part("teacher")) if config.teacher_weight else None
        task = CellGAN(config, judge, teacher)
        history = launch.fit(task)
        return task.models["decoder"], history
    task = CellCVAE(config, judge) if config.objective == "cvae" else StudyWriter(config, judge)
    history = launch.fit(task)
    return (task.model.decoder if config.objective == "cvae" else task.model), history


DEFAULTS = {  # each objective's own schedule
    "gan": Config(objective="gan", epochs=8),
    "cvae": Config(objective="cvae", lr=2e-3),
    "study": Config(objective="study", epochs=10, lr=1e-3),
}
