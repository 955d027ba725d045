"""Recurrent encoder-decoders for text-to-text arithmetic.

Every model takes one-hot queries ``[batch, 5, 13]`` and returns logits ``[batch, 3, 13]``; the
export wrapper (:class:`training.export.WithSoftmax`) adds the softmax, so the ONNX output is
probabilities. From the study's baseline to ours, each step is one idea (the README measures
what each bought): attention and answers written units first (:class:`Attention`), operands
aligned by place value (:class:`Aligned`), one column at a time (:class:`PlaceValue`).
``in_features`` lets the image models (:mod:`training.models.strip_readers`) feed the first two
a feature vector per cell instead of a one-hot symbol.
"""

import torch
from torch import nn


class Baseline(nn.Module):
    """The study's model: LSTM encoder -> last state repeated 3 times -> LSTM decoder -> dense."""

    def __init__(
        self,
        n_symbols: int = 13,
        answer_len: int = 3,
        hidden: int = 256,
        in_features: int | None = None,
    ):
        super().__init__()
        self.answer_len = answer_len
        self.encoder = nn.LSTM(in_features or n_symbols, hidden, batch_first=True)
        self.decoder = nn.LSTM(hidden, hidden, batch_first=True)
        self.head = nn.Linear(hidden, n_symbols)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, (h, _) = self.encoder(x)
        repeated = h[-1].unsqueeze(1).expand(-1, self.answer_len, -1)
        out, _ = self.decoder(repeated)
        return self.head(out)


class Attention(nn.Module):
    """Bidirectional LSTM encoder, LSTM decoder that attends over the query at every step (the
    shipped text model before :class:`PlaceValue`, and the strip reader's solver).

    The decoder writes the answer least-significant symbol first (``reverse=True``), the order in
    which carries flow, and the output is flipped back to reading order, so callers never see it.
    Answers are right-aligned so each output position is one place value. Several attention heads
    let one step look at the matching digit of both operands at once.
    """

    def __init__(
        self,
        n_symbols: int = 13,
        answer_len: int = 3,
        hidden: int = 128,
        embed: int = 32,
        dropout: float = 0.3,
        heads: int = 8,
        reverse: bool = True,
        in_features: int | None = None,
    ):
        super().__init__()
        self.answer_len, self.reverse = answer_len, reverse
        self.embed = nn.Linear(in_features or n_symbols, embed, bias=False)
        self.encoder = nn.LSTM(embed, hidden, batch_first=True, bidirectional=True)
        self.bridge = nn.Linear(2 * hidden, 2 * hidden)
        self.steps = nn.Parameter(torch.randn(answer_len, embed) * 0.1)
        self.decoder = nn.LSTMCell(embed + 2 * hidden, 2 * hidden)
        self.attend = nn.MultiheadAttention(2 * hidden, heads, batch_first=True)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(4 * hidden, n_symbols)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        memory, (h, _) = self.encoder(self.embed(x))  # memory: [B, T, 2H]
        state = torch.tanh(self.bridge(torch.cat([h[0], h[1]], dim=-1)))
        hc = (state, torch.zeros_like(state))
        context = memory.mean(dim=1)
        logits = []
        for t in range(self.answer_len):
            step = self.steps[t].expand(x.shape[0], -1)
            hc = self.decoder(torch.cat([step, context], dim=-1), hc)
            context = self.attend(hc[0].unsqueeze(1), memory, memory, need_weights=False)[0][:, 0]
            logits.append(self.head(self.drop(torch.cat([hc[0], context], dim=-1))))
        out = torch.stack(logits, dim=1)
        return out.flip(1) if self.reverse else out


def blank_like(x: torch.Tensor) -> torch.Tensor:
    """One one-hot blank symbol per query of ``x`` ``[batch, T, 13]``: ``[batch, 1, 13]``."""
    blank = torch.zeros_like(x[:, :1])
    blank[..., 12] = 1.0
    return blank


def align_operands(x: torch.Tensor) -> torch.Tensor:
    """Any blank-padded one-hot query ``[batch, T, 13]`` as the 5 symbols ``AA+BB``, each operand
    right-aligned with a blank for a missing tens digit ("7+3  " reads as " 7+ 3").

    A fixed rewrite, no weights: every input position then holds one place value, so a query
    with a one-digit operand looks like every other query instead of a rarely seen layout. It
    assumes the symbol order of :data:`training.data.arithmetic.SYMBOLS` (digits, '+', '-', blank)
    and a well-formed query (the service parses every query before the model sees it). Each
    position counts as the kind (digit, operator, blank) holding most of its probability, so the
    symbol probabilities of a strip reader can be aligned as well as one-hot text.
    """
    digit = (x[..., :10].sum(-1) > 0.5).to(x.dtype)  # [B, T]; > 0.5 so soft readings work too
    operator = (x[..., 10:12].sum(-1) > 0.5).to(x.dtype)
    in_b = (torch.cumsum(operator, dim=1) > 0).to(x.dtype)
    blank = blank_like(x)[:, 0]
    slots = []
    for in_operand in (digit * (1 - in_b), digit * in_b):
        # place value of each digit: how many digits of its operand stand to its right
        place = in_operand.flip(1).cumsum(1).flip(1) - in_operand
        for value in (1, 0):  # tens, then units
            at = in_operand * (place == value).to(x.dtype)  # [B, T], at most one 1
            slot = (at.unsqueeze(-1) * x).sum(1)
            slots.append(slot + blank * (1 - at.sum(1, keepdim=True)))
    slots.insert(2, (operator.unsqueeze(-1) * x).sum(1))
    return torch.stack(slots, dim=1)


class Aligned(Attention):
    """The attention model reading the query through :func:`align_operands`."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(align_operands(x))


class PlaceValue(nn.Module):
    """Ours: reads the aligned query one column (place value) at a time, as written sums are done.

    Each column is the digit of A, the digit of B and the operator. An encoder LSTM reads the
    columns from the hundreds down and hands the decoder only ``summary`` numbers (enough for
    the sign: which operand is larger); the decoder LSTM goes from the units up, so a carry or
    borrow is state passed to the next column. Both share their weights over the columns, so
    what is learnt about units holds for tens. Answers are right-aligned (answer padding
    "left"), so output position = column.
    """

    def __init__(
        self,
        n_symbols: int = 13,
        answer_len: int = 3,
        hidden: int = 64,
        embed: int = 64,
        summary: int = 2,
    ):
        super().__init__()
        self.columns = answer_len
        self.embed = nn.Linear(3 * n_symbols, embed)
        self.encoder = nn.LSTM(embed, hidden, batch_first=True)
        self.summary = nn.Sequential(
            nn.Linear(hidden, summary), nn.Tanh(), nn.Linear(summary, 2 * hidden)
        )
        self.decoder = nn.LSTM(embed, hidden, batch_first=True)
        self.head = nn.Linear(hidden, n_symbols)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q = align_operands(x)  # [B, 5, S]: A tens, A units, operator, B tens, B units
        pad = blank_like(q).expand(-1, self.columns - 2, -1)
        a, b = torch.cat([pad, q[:, :2]], 1), torch.cat([pad, q[:, 3:]], 1)
        operator = q[:, 2:3].expand(-1, self.columns, -1)
        columns = self.embed(torch.cat([a, b, operator], dim=-1))  # [B, columns], hundreds first
        _, (h, _) = self.encoder(columns)
        h0, c0 = self.summary(h).chunk(2, dim=-1)
        state = (h0.contiguous(), c0.contiguous())
        out, _ = self.decoder(columns.flip(1), state)  # units first
        return self.head(out).flip(1)


ARCHITECTURES = {
    "baseline": Baseline,
    "attention": Attention,
    "aligned": Aligned,
    "place-value": PlaceValue,
}


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
