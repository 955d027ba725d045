"""The committed glyph judge (reports/judge/), re-measured: it must be trustworthy to grade with."""

import json

import numpy as np
import pytest

from training.data.cells import CELL_SYMBOLS
from training.evaluation.glyph_judge import JUDGE, GlyphJudge
from training.export import sha256
from training.runtime import REPO
from training.tasks.judge import held_out_cells


@pytest.fixture(scope="module")
def card() -> dict:
    return json.loads((JUDGE.parent / "card.json").read_text())


def test_card_matches_its_onnx_file(card):
    assert card["sha256"] == sha256(JUDGE) and card["symbols"] == CELL_SYMBOLS
    assert JUDGE.is_relative_to(REPO / "reports"), "the judge is not a served model"


def test_mnist_test_accuracy(card):
    (cells, labels), digits = held_out_cells(card["training"]["config"]["seed"] + 1)
    verdicts = GlyphJudge()(cells.astype(np.float32) / 255)
    digit_accuracy = (verdicts[:digits] == labels[:digits]).mean()
    assert digit_accuracy >= 0.993, f"MNIST test accuracy {digit_accuracy:.4f}"
    assert (verdicts[digits:] == labels[digits:]).mean() >= 0.99  # minus and blank
