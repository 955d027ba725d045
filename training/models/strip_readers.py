"""Models that read a handwritten strip ``[batch, 1, 28, 140]`` in 0..1: five cells, light on dark.

Every model returns a dict of logits: ``"answer"`` ``[batch, 3, 13]`` if it computes the answer,
``"symbols"`` ``[batch, 5, 13]`` if it reads each cell. The study's two baselines only answer; the
classify-then-compute reference only reads (Python does the arithmetic); ours does both, from one
CNN shared by the five cells, so the service can return the expression it read with the answer.
"""

from itertools import pairwise

import torch
from torch import nn

from training.data import arithmetic as ar
from training.models.seq2seq import Attention, Baseline, PlaceValue

CELL = 28
N_SYMBOLS = len(ar.SYMBOLS)
_PLUS = ((0, 0), (0, -1), (0, 1), (-1, 0), (1, 0))  # (down, right) pixel shifts of a strip
VIEWS = {1: _PLUS[:1], 5: _PLUS, 9: (*_PLUS, (-1, -1), (-1, 1), (1, -1), (1, 1))}


def per_cell(net: nn.Module, strip: torch.Tensor) -> torch.Tensor:
    """``net`` applied to each cell on its own (as TimeDistributed): ``[batch, 5, features]``."""
    cells = strip.reshape(-1, 1, CELL, ar.QUERY_LEN, CELL).permute(0, 3, 1, 2, 4)
    return net(cells.reshape(-1, 1, CELL, CELL)).reshape(-1, ar.QUERY_LEN, net.features)


class Flatten(nn.Module):
    """A cell as its 784 pixels: the study's first baseline has no image layers at all."""

    features = CELL * CELL

    def forward(self, cells: torch.Tensor) -> torch.Tensor:
        return cells.flatten(1)


class StudyConv(nn.Module):
    """The study's per-cell convolution stack: two conv + max-pool layers, no normalisation."""

    features = 32 * 5 * 5

    def __init__(self):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv2d(1, 16, 3), nn.ReLU(), nn.MaxPool2d(2),  # 26 -> 13
            nn.Conv2d(16, 32, 3), nn.ReLU(), nn.MaxPool2d(2),  # 11 -> 5
            nn.Flatten(),
        )  # fmt: skip

    def forward(self, cells: torch.Tensor) -> torch.Tensor:
        return self.layers(cells)


class StudyRecurrent(nn.Module):
    """The study's models: cell features -> LSTM encoder -> repeat -> LSTM decoder -> dense."""

    def __init__(self, cells: nn.Module, hidden: int = 256):
        super().__init__()
        self.cells = cells
        self.solver = Baseline(N_SYMBOLS, ar.ANSWER_LEN, hidden, in_features=cells.features)

    def forward(self, strip: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"answer": self.solver(per_cell(self.cells, strip))}


class StudyFlat(StudyRecurrent):
    """The study's first baseline: each cell's 784 pixels are one time step."""

    def __init__(self, hidden: int = 256):
        super().__init__(Flatten(), hidden)


class StudyConvLSTM(StudyRecurrent):
    """The study's convolutional-recurrent baseline."""

    def __init__(self, hidden: int = 256):
        super().__init__(StudyConv(), hidden)


def block(inputs: int, outputs: int, convs: int = 1) -> nn.Sequential:
    """``convs`` x (conv 3x3 -> BatchNorm -> ReLU), then a 2x2 max-pool: halves the cell's side."""
    layers = []
    for width in (inputs, *[outputs] * (convs - 1)):
        layers += [nn.Conv2d(width, outputs, 3, padding=1, bias=False), nn.BatchNorm2d(outputs),
                   nn.ReLU()]  # fmt: skip
    return nn.Sequential(*layers, nn.MaxPool2d(2))


class CellNet(nn.Module):
    """A small CNN for one 28x28 cell: three conv blocks (28 -> 14 -> 7 -> 3), a dense layer.

    ``convs`` gives every block but the first (on the 14x14 and 7x7 maps) that many convolutions,
    VGG-style: digits read wrong were most of the wrong answers. With 2, a training step of
    image2text's batch took 1.7x as long on this CPU (237 vs 138 ms, two threads).
    """

    def __init__(
        self,
        channels: tuple[int, int, int] = (16, 32, 64),
        features: int = 128,
        dropout: float = 0.25,
        convs: int = 1,
    ):
        super().__init__()
        self.features = features
        depths = (1, *[convs] * (len(channels) - 1))
        self.layers = nn.Sequential(
            *(block(a, b, d) for (a, b), d in zip(pairwise((1, *channels)), depths, strict=True)),
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(channels[-1] * 3 * 3, features),
            nn.ReLU(),
            nn.Dropout(dropout),
        )

    def forward(self, cells: torch.Tensor) -> torch.Tensor:
        return self.layers(cells)


class CellClassifier(nn.Module):
    """The study's suggestion: read each cell's symbol (blank included); the caller computes."""

    def __init__(
        self, channels: tuple[int, int, int] = (16, 32, 64), features: int = 128, convs: int = 1
    ):
        super().__init__()
        self.cells = CellNet(channels, features, convs=convs)
        self.head = nn.Linear(features, N_SYMBOLS)

    def read(self, strip: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-cell features ``[batch, 5, features]`` and symbol logits ``[batch, 5, 13]``."""
        features = per_cell(self.cells, strip)
        return features, self.head(features)

    def forward(self, strip: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"symbols": self.read(strip)[1]}


class StripReader(nn.Module):
    """Ours: a cell classifier whose reading feeds a text model's recurrent encoder-decoder.

    One CNN is shared by the five cells; its symbol head is trained on each cell's label. The
    text model computes the answer from the five cells' symbol probabilities (``from_symbols``),
    so it learns arithmetic on near one-hot input, as the text model does, and its answer stays
    consistent with the expression read: ``text_model="place-value"``
    (:class:`training.models.seq2seq.PlaceValue`, aligned by place value, what training now
    uses) or ``"attention"`` (the default, so that cards written before keep rebuilding the
    model they describe). With ``from_symbols=False`` the attention model reads the CNN's
    features instead (the ablation in the image report): measured slower to learn.

    With ``hard_symbols`` the solver gets the one-hot of each cell's most likely symbol, as a
    text query (gradients pass straight through to the probabilities, Bengio et al. 2013): a
    solver that answers every text query then answers every strip whose expression it read
    right. Soft probabilities let an unsure cell shift the answer of an expression read right.

    With ``views`` 5 or 9, evaluation (eval mode, and so the exported model) reads the strip as
    it is and shifted one pixel each way (5: left, right, up, down; 9: the diagonals too) and
    averages the cells' probabilities (test-time augmentation). Training reads each strip once.
    The image2text card's ``one_view_*`` scores are its model read once, for comparison.
    """

    def __init__(
        self,
        channels: tuple[int, int, int] = (16, 32, 64),
        features: int = 128,
        solver: dict | None = None,
        from_symbols: bool = True,
        text_model: str = "attention",
        hard_symbols: bool = False,
        convs: int = 1,
        views: int = 1,
    ):
        super().__init__()
        if hard_symbols and not from_symbols:
            raise ValueError("hard_symbols needs from_symbols")
        if views not in VIEWS or (views > 1 and not from_symbols):
            raise ValueError(
                f"views must be one of {sorted(VIEWS)} (more than 1 needs from_symbols)"
            )
        self.views = VIEWS[views]
        self.from_symbols = from_symbols
        self.hard_symbols = hard_symbols
        self.reader = CellClassifier(channels, features, convs)
        if text_model == "place-value" and from_symbols:
            self.solver = PlaceValue(N_SYMBOLS, ar.ANSWER_LEN, **(solver or {}))
        elif text_model == "attention":
            width = N_SYMBOLS if from_symbols else features
            self.solver = Attention(N_SYMBOLS, ar.ANSWER_LEN, in_features=width, **(solver or {}))
        else:
            raise ValueError(f"text_model {text_model!r} with from_symbols={from_symbols}")

    def forward(self, strip: torch.Tensor) -> dict[str, torch.Tensor]:
        if self.training or len(self.views) == 1:
            features, symbols = self.reader.read(strip)
        else:
            features, symbols = None, self.read_views(strip)
        inputs = symbols.softmax(-1) if self.from_symbols else features
        if self.hard_symbols:
            inputs = straight_through_one_hot(inputs)
        return {"answer": self.solver(inputs), "symbols": symbols}

    def read_views(self, strip: torch.Tensor) -> torch.Tensor:
        """The cells' symbol log-probabilities averaged over the shifted views, in one pass."""
        shifted = torch.cat([strip.roll(shift, dims=(2, 3)) for shift in self.views])
        _, symbols = self.reader.read(shifted)
        probabilities = symbols.softmax(-1).reshape(
            len(self.views), *strip.shape[:1], *symbols.shape[1:]
        )
        return probabilities.mean(0).clamp_min(1e-12).log()


def straight_through_one_hot(probabilities: torch.Tensor) -> torch.Tensor:
    """The one-hot of each row's most likely symbol, its gradient passed to the probabilities.

    The row's maximum becomes 1 (ties between exact floats aside): exports as plain ops.
    """
    one_hot = (probabilities == probabilities.amax(-1, keepdim=True)).to(probabilities.dtype)
    return one_hot + probabilities - probabilities.detach()


class Committee(nn.Module):
    """Readers of ours trained apart (other seeds), read as one: each cell's symbol probabilities
    are the mean of the members', and the first member's solver answers the expression so read.

    Members trained alike misread mostly the same hard digits, but not all of them: averaging
    networks trained apart is the classic way below one network's error on MNIST (Ciresan et
    al. 2012). Inference only; it costs one reader's run per member.
    """

    def __init__(self, members: list[StripReader]):
        super().__init__()
        if not members or not all(m.hard_symbols and len(m.views) == 1 for m in members):
            raise ValueError("a committee's members are readers of ours with hard_symbols, 1 view")
        self.readers = nn.ModuleList(member.reader for member in members)
        self.solver = members[0].solver

    def forward(self, strip: torch.Tensor) -> dict[str, torch.Tensor]:
        read = [reader.read(strip)[1].softmax(-1) for reader in self.readers]
        probabilities = torch.stack(read).mean(0)
        return {
            "answer": self.solver(straight_through_one_hot(probabilities)),
            "symbols": probabilities.clamp_min(1e-12).log(),
        }


ARCHITECTURES = {
    "study-flat": StudyFlat,
    "study-convlstm": StudyConvLSTM,
    "ours": StripReader,
    "cell-classifier": CellClassifier,
}


class Probabilities(nn.Module):
    """The exported form of ours: ``strip`` in, softmax ``answer`` and ``symbols`` out."""

    def __init__(self, model: StripReader):
        super().__init__()
        self.model = model

    def forward(self, strip: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.model(strip)
        return out["answer"].softmax(dim=-1), out["symbols"].softmax(dim=-1)
