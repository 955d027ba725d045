"""Recurrent encoder-decoders for text-to-text arithmetic.

Both models take one-hot queries ``[batch, 5, 13]`` and return logits ``[batch, 3, 13]``; the
export wrapper (:class:`training.export.WithSoftmax`) adds the softmax, so the ONNX output is
probabilities. ``in_features`` lets the image models (:mod:`training.models.strip_readers`) feed
them a feature vector per cell instead of a one-hot symbol.
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
    """Ours: bidirectional LSTM encoder, LSTM decoder that attends over the query at every step.

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


ARCHITECTURES = {"baseline": Baseline, "attention": Attention}


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
