"""Arithmetic queries: parse what clients send; translate to and from the one-hot tensors.

Parsing is strict so that a bad query is a 422 naming the problem, never a guess by the model.
Leading zeros are accepted and dropped ("05+7" means "5+7"): the value is what the contract
bounds (0..99), and the model was trained on canonical numbers only. Operands have at most 2 digits.
"""

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

ALLOWED = (
    "expected 'A+B' or 'A-B' with whole numbers A and B from 0 to 99 "
    "(spaces are ignored), e.g. '81+24'"
)
_CHARS = frozenset("0123456789+-")
_QUERY = re.compile(r"([0-9]+)([+-])([0-9]+)")
_NEGATIVE = re.compile(r"(?:^|[+-])(-[0-9]+)")
BLANK = " "


class QueryError(ValueError):
    """A query the service refuses; the message says what is wrong and what is allowed."""

    def __init__(self, problem: str) -> None:
        super().__init__(f"{problem}; {ALLOWED}")
        self.problem = problem


def parse_query(raw: str, max_chars: int) -> str:
    """Return the canonical form of `raw` ("81 + 24" -> "81+24") or raise QueryError."""
    if len(raw) > max_chars:
        raise QueryError(f"{len(raw)} characters long, over the limit of {max_chars}")
    compact = "".join(raw.split())
    if not compact:
        raise QueryError("empty or only spaces")
    bad = "".join(dict.fromkeys(c for c in compact if c not in _CHARS))
    if bad:
        raise QueryError(f"unexpected {bad!r} (only digits, '+', '-' and spaces are allowed)")
    match = _QUERY.fullmatch(compact)
    if match is None:
        raise QueryError(_shape_problem(compact))
    a, op, b = match.groups()
    for operand in (a, b):
        if int(operand) > 99:
            raise QueryError(f"operand {int(operand)} is over 99")
        if len(operand) > 2:
            raise QueryError(f"operand {operand!r} has more than 2 digits")
    return f"{int(a)}{op}{int(b)}"


def _shape_problem(compact: str) -> str:
    """Explain why digits and signs do not form exactly `number op number`."""
    if "+" not in compact and "-" not in compact:
        return f"{compact!r} has no operator (+ or -)"
    negative = _NEGATIVE.search(compact)
    if negative:
        return f"negative operand {negative.group(1)!r} is not allowed"
    if compact[0] in "+-" or compact[-1] in "+-":
        return f"{compact!r} is missing an operand"
    return f"{compact!r} has more than one operator"


@dataclass(frozen=True)
class TextCodec:
    """The card's symbol table and lengths: queries to one-hot input, probabilities to answers."""

    symbols: str
    query_length: int
    answer_length: int
    query_padding: str

    @classmethod
    def from_card(cls, card: dict[str, Any]) -> "TextCodec":
        """Read and check the text fields of a card; ValueError says which one is wrong."""
        try:
            codec = cls(
                symbols=card["symbols"],
                query_length=card["query_length"],
                answer_length=card["answer_length"],
                query_padding=card["padding"]["query"],
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"text card field missing or malformed: {exc}") from exc
        if BLANK not in codec.symbols or not set(_CHARS) <= set(codec.symbols):
            raise ValueError(f"symbols {codec.symbols!r} must hold the digits, '+', '-' and ' '")
        if codec.query_padding not in ("left", "right"):
            raise ValueError(f"padding.query is {codec.query_padding!r}, not 'left' or 'right'")
        return codec

    def input_shape(self) -> list[int | str]:
        return ["batch", self.query_length, len(self.symbols)]

    def output_shape(self) -> list[int | str]:
        return ["batch", self.answer_length, len(self.symbols)]

    def encode(self, queries: list[str]) -> np.ndarray:
        """One-hot float32 [n, query_length, symbols], blank-padded on the side the card says."""
        for query in queries:
            if len(query) > self.query_length:
                raise ValueError(f"{query!r} is longer than {self.query_length} symbols")
        return one_hot(queries, self.symbols, self.query_length, self.query_padding)

    def decode(self, probs: np.ndarray) -> list[str]:
        return spell(self.symbols, probs)


def pad(text: str, length: int, side: str) -> str:
    """Blank-pad to ``length``: "right" gives "5+7  ", "left" "  5+7", "middle" " 5+7 " (the
    last is a training-only form: cards say left or right)."""
    before = {"right": 0, "left": length - len(text), "middle": (length - len(text)) // 2}[side]
    return (BLANK * before + text).ljust(length, BLANK)


def one_hot(texts: list[str], symbols: str, length: int, side: str) -> np.ndarray:
    """One-hot float32 ``[len(texts), length, len(symbols)]`` of texts blank-padded on ``side``:
    how every text model here reads a query, in training and in the service."""
    index = {s: i for i, s in enumerate(symbols)}
    ids = np.array([[index[c] for c in pad(t, length, side)] for t in texts], dtype=np.intp)
    return np.eye(len(symbols), dtype=np.float32)[ids.reshape(len(texts), length)]


def spell(symbols: str, probs: np.ndarray) -> list[str]:
    """Argmax symbol per position, joined, blanks stripped ("105", "-48", "7")."""
    table = np.array(list(symbols))
    return ["".join(row).strip(BLANK) for row in table[probs.argmax(axis=-1)]]
