"""Models that write an answer as handwriting: three 28x28 cells, light on dark, in 0..1.

Ours works in two steps, each trained on its own and composed for export (:class:`Renderer`):

1. a *speller*, the text model's recurrent encoder-decoder
   (:class:`training.models.seq2seq.Attention`), reads the query and decides each answer cell;
2. a *cell decoder*, a small transposed-conv network shared by the cells, draws each symbol from a
   style latent ``z``. It is trained as a conditional GAN or a conditional VAE (chosen by
   measurement, see :mod:`training.tasks.writer_objectives`); one ``z`` per answer keeps one hand.

The study's baseline (:class:`StudyRenderer`) maps the query straight to pixels with a pixel loss.
"""

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils import spectral_norm

from training.data import arithmetic as ar
from training.data.cells import CELL_SYMBOLS
from training.models.seq2seq import Baseline

CELL = 28
N_CLASSES = len(CELL_SYMBOLS)
BLANK_CLASS = CELL_SYMBOLS.index(" ")
# Speller symbols (arithmetic.SYMBOLS, 13) to cell classes (12): '+' never occurs in an answer.
TO_CELL_CLASS = [CELL_SYMBOLS.index(s) if s in CELL_SYMBOLS else BLANK_CLASS for s in ar.SYMBOLS]


class CellDecoder(nn.Module):
    """Style latent + one-hot cell class -> a 28x28 cell: dense to 7x7, two 2x upsampling convs."""

    def __init__(self, latent: int = 32, width: int = 64):
        super().__init__()
        self.latent, self.width = latent, width
        self.dense = nn.Sequential(
            nn.Linear(latent + N_CLASSES, 2 * width * 7 * 7), nn.BatchNorm1d(2 * width * 7 * 7),
            nn.ReLU(),
        )  # fmt: skip
        self.up = nn.Sequential(
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1, bias=False), nn.BatchNorm2d(width),
            nn.ReLU(),  # 7 -> 14
            nn.ConvTranspose2d(width, 1, 4, 2, 1),  # 14 -> 28
            nn.Sigmoid(),
        )  # fmt: skip

    def forward(self, z: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
        """``z [n, latent]``, ``classes [n, 12]`` one-hot -> cells ``[n, 1, 28, 28]``."""
        hidden = self.dense(torch.cat([z, classes], dim=1))
        return self.up(hidden.view(-1, 2 * self.width, 7, 7))


def features(width: int) -> nn.Sequential:
    """Spectrally normalised conv features of a cell, 28 -> 14 -> 7, flattened."""
    return nn.Sequential(
        spectral_norm(nn.Conv2d(1, width, 4, 2, 1)), nn.LeakyReLU(0.2),
        spectral_norm(nn.Conv2d(width, 2 * width, 4, 2, 1)), nn.LeakyReLU(0.2),
        nn.Flatten(),
    )  # fmt: skip


class CellCritic(nn.Module):
    """The GAN's discriminator: real/fake score with a class projection, plus class logits (AC-GAN).

    The class head is the generator's teacher for correctness; it is part of the GAN and is trained
    with it, separately from the judge that grades the results.
    """

    def __init__(self, width: int = 64):
        super().__init__()
        self.features = features(width)
        size = 2 * width * 7 * 7
        self.score = spectral_norm(nn.Linear(size, 1))
        self.project = spectral_norm(nn.Embedding(N_CLASSES, size))
        self.classify = nn.Linear(size, N_CLASSES)

    def forward(
        self, cells: torch.Tensor, labels: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.features(cells)
        score = self.score(h)[:, 0] + (self.project(labels) * h).sum(dim=1)
        return score, self.classify(h)


class CellEncoder(nn.Module):
    """The conditional VAE's encoder: a cell and its class -> mean and log-variance of ``z``."""

    def __init__(self, latent: int = 32, width: int = 64):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, width, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Flatten(),
        )  # fmt: skip
        self.out = nn.Linear(2 * width * 7 * 7 + N_CLASSES, 2 * latent)

    def forward(self, cells: torch.Tensor, classes: torch.Tensor) -> tuple[torch.Tensor, ...]:
        mean, log_var = self.out(torch.cat([self.features(cells), classes], 1)).chunk(2, dim=1)
        return mean, log_var


class CVAE(nn.Module):
    """Encoder and decoder of the conditional VAE, trained together."""

    def __init__(self, latent: int, width: int):
        super().__init__()
        self.encoder = CellEncoder(latent, width)
        self.decoder = CellDecoder(latent, width)


def left_align(ids: torch.Tensor) -> torch.Tensor:
    """Cell classes ``[n, 3]`` of a right-aligned answer, moved left: ``"  7"`` -> ``"7  "``."""
    inked = (ids != BLANK_CLASS).long()
    leading = (torch.cumsum(inked, dim=1) == 0).sum(dim=1, keepdim=True)  # blanks before the answer
    index = torch.arange(ids.shape[1], device=ids.device).unsqueeze(0) + leading
    moved = ids.gather(1, index.clamp(max=ids.shape[1] - 1))
    return torch.where(index < ids.shape[1], moved, torch.full_like(ids, BLANK_CLASS))


class Renderer(nn.Module):
    """Exported: one-hot query `[n, 5, 13]` and style `[n, latent]` -> image `[n, 1, 28, 84]`.

    The speller answers right-aligned (each position one place value, as it learnt); the answer is
    then moved left, so unused cells are on the right and drawn blank.
    """

    def __init__(self, speller: nn.Module, decoder: CellDecoder):
        super().__init__()
        self.speller, self.decoder = speller, decoder
        self.register_buffer("to_cell", torch.tensor(TO_CELL_CLASS), persistent=False)

    def forward(
        self, query: torch.Tensor, style: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The image, and the class (index into CELL_SYMBOLS) each cell was drawn as: ``[n, 3]``."""
        ids = left_align(self.to_cell[self.speller(query).argmax(dim=-1)])
        n, cells = ids.shape
        classes = nn.functional.one_hot(ids.flatten(), N_CLASSES).float()
        z = style.unsqueeze(1).expand(n, cells, -1).reshape(n * cells, -1)  # one hand per answer
        drawn = self.decoder(z, classes).view(n, cells, CELL, CELL)
        return drawn.permute(0, 2, 1, 3).reshape(n, 1, CELL, cells * CELL), ids


class StudyRenderer(nn.Module):
    """The study's text-to-image model: LSTM encoder, repeat, LSTM decoder, dense 784 per step."""

    def __init__(self, hidden: int = 256):
        super().__init__()
        self.seq = Baseline(len(ar.SYMBOLS), ar.ANSWER_LEN, hidden)
        self.seq.head = nn.Linear(hidden, CELL * CELL)

    def forward(self, query: torch.Tensor) -> torch.Tensor:
        """One-hot query -> cells ``[n, 3, 28, 28]`` in 0..1 (a sigmoid per pixel)."""
        return torch.sigmoid(self.seq(query)).view(-1, ar.ANSWER_LEN, CELL, CELL)


def one_hot(labels: torch.Tensor) -> torch.Tensor:
    return F.one_hot(labels, N_CLASSES).float()
