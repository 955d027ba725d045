"""The arithmetic task: every query ``A+B`` / ``A-B`` with 0 <= A, B <= 99, as one-hot symbols
(padded and encoded by the service's own :mod:`service.arithmetic`, so both read queries alike).

There are only 20,000 queries, so the dataset is enumerated, never sampled, and a train/held-out
split is a split of *queries*: every padding of a held-out query stays held out.
"""

import hashlib

import numpy as np

from service.arithmetic import BLANK, one_hot, pad

SYMBOLS = "0123456789+- "
QUERY_LEN = 5  # "99+99"
ANSWER_LEN = 3  # "198", "-99"
MAX_OPERAND = 99
PADDINGS = ("right", "left", "middle")  # "5+7  ", "  5+7", " 5+7 "


def all_queries() -> list[str]:
    """Every query in canonical form (no blanks), in a fixed order."""
    return [
        f"{a}{op}{b}" for a in range(MAX_OPERAND + 1) for op in "+-" for b in range(MAX_OPERAND + 1)
    ]


def random_queries(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` queries drawn uniformly from :func:`all_queries`, with replacement."""
    every = all_queries()
    return [every[i] for i in rng.integers(len(every), size=n)]


def answer(query: str) -> str:
    """The answer to a canonical query, computed by Python arithmetic."""
    op_at = query.index("+") if "+" in query else query.index("-", 1)
    a, b = int(query[:op_at]), int(query[op_at + 1 :])
    return str(a + b if query[op_at] == "+" else a - b)


def encode(texts: list[str], length: int, side: str = "right") -> np.ndarray:
    """One-hot float32 array ``[len(texts), length, len(SYMBOLS)]`` of blank-padded texts (the
    service's own encoding, :func:`service.arithmetic.one_hot`)."""
    return one_hot(texts, SYMBOLS, length, side)


def decode(ids: np.ndarray) -> list[str]:
    """Symbol ids ``[n, length]`` back to texts, blanks stripped."""
    return ["".join(SYMBOLS[i] for i in row).strip(BLANK) for row in ids]


def answer_ids(queries: list[str], side: str = "right") -> np.ndarray:
    """Target symbol ids ``[n, ANSWER_LEN]`` of the answers, blank-padded on ``side``."""
    index = {s: i for i, s in enumerate(SYMBOLS)}
    return np.array([[index[c] for c in pad(answer(q), ANSWER_LEN, side)] for q in queries])


def split(queries: list[str], train_fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """A random split of queries into (train, held-out), reproducible from ``seed``."""
    order = np.random.default_rng(seed).permutation(len(queries))
    n_train = round(train_fraction * len(queries))
    return [queries[i] for i in order[:n_train]], [queries[i] for i in order[n_train:]]


def fingerprint(queries: list[str]) -> str:
    """sha256 of a query list, so a card can prove which held-out set its metrics came from."""
    return hashlib.sha256("\n".join(sorted(queries)).encode()).hexdigest()
