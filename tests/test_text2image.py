"""Text-to-image training: labelled cells, the judge, the writers, alignment, export parity."""

import json

import numpy as np
import pytest
import torch

from service.registry import CardError, load_model, session_options
from training.__main__ import main
from training.data import arithmetic as ar
from training.data.cells import CELL_SYMBOLS, answer_targets, labelled_cells
from training.data.mnist import load_mnist
from training.evaluation.glyph_judge import (
    GlyphJudge,
    answers_as_cells,
    grade_renders,
    nearest_train_distance,
)
from training.export import export_onnx, parity
from training.launch import Launch
from training.models.cell_writers import (
    BLANK_CLASS,
    CellDecoder,
    Renderer,
    StudyRenderer,
    left_align,
)
from training.models.seq2seq import Attention
from training.tasks.judge import held_out_cells
from training.tasks.writer_objectives import Config, fit_writer


class Oracle(torch.nn.Module):
    """A speller that answers every query right, right-aligned (as the trained speller does)."""

    def forward(self, query: torch.Tensor) -> torch.Tensor:
        texts = ar.decode(query.argmax(-1).numpy())
        ids = ar.answer_ids(texts, "left")
        return torch.nn.functional.one_hot(torch.from_numpy(ids), len(ar.SYMBOLS)).float()


@pytest.fixture(scope="module")
def judge(tmp_path_factory) -> GlyphJudge:
    """A judge from a two-batch dry run: only its interface matters here."""
    out = tmp_path_factory.mktemp("judge") / "judge"
    main(["judge", "--dry-run", "--out", str(out)])
    return GlyphJudge(out / "model.onnx")


def test_labelled_cells_hold_every_symbol_but_plus():
    cells, labels = labelled_cells("test", np.random.default_rng(0), 50, shuffle=False)
    assert cells.shape == (10_100, 28, 28) and cells.dtype == np.uint8
    assert np.bincount(labels, minlength=12)[10:].tolist() == [50, 50]  # minus, blank
    assert cells[labels == BLANK_CLASS].max() < 40  # blanks carry faint noise only
    assert (cells[labels == CELL_SYMBOLS.index("-")].max(axis=(1, 2)) > 100).all()


def test_the_judge_can_be_measured_on_the_first_test_digits_only():
    """A dry run measures the judge on fewer cells: the first digits, then the same extra cells."""
    (cells, labels), digits = held_out_cells(3, 10_000, 5)
    (few, few_labels), few_digits = held_out_cells(3, 50, 5)
    assert (digits, few_digits) == (10_000, 50) and few.shape == (60, 28, 28)
    assert np.array_equal(few[:50], cells[:50]) and np.array_equal(few[50:], cells[-10:])
    assert np.array_equal(few_labels, np.r_[labels[:50], labels[-10:]])


def test_judge_card_records_its_test_scores(tmp_path):
    main(["judge", "--dry-run", "--out", str(tmp_path / "judge")])
    card = json.loads((tmp_path / "judge" / "card.json").read_text())
    assert card["task"] == "judge" and card["symbols"] == CELL_SYMBOLS
    assert {"mnist_test_accuracy", "minus_blank_accuracy"} <= set(card["metrics"])
    assert card["metrics"]["onnx_parity_max_abs_diff"] < 1e-5
    assert card["dataset"]["test"].startswith("MNIST test (1,000 of 10,000); 100 fresh minus")


@pytest.mark.parametrize(
    ("cells", "aligned"),
    [
        ("  7", "7  "),
        (" 42", "42 "),
        ("105", "105"),
        (" -3", "-3 "),
        ("-48", "-48"),
        ("   ", "   "),
    ],
)
def test_left_align_moves_the_answer_to_the_first_cell(cells, aligned):
    ids = torch.tensor([[CELL_SYMBOLS.index(c) for c in cells]])
    assert "".join(CELL_SYMBOLS[i] for i in left_align(ids)[0]) == aligned


def test_renderer_writes_left_aligned_cells_and_says_what_it_drew():
    queries = ["81+24", "7-19", "0-99", "5+5"]
    image, ids = Renderer(Oracle(), CellDecoder(latent=8)).eval()(
        torch.from_numpy(ar.encode(queries, ar.QUERY_LEN, "right")), torch.randn(4, 8)
    )
    assert image.shape == (4, 1, 28, 84) and 0 <= image.min() <= image.max() <= 1
    assert ["".join(CELL_SYMBOLS[i] for i in row) for row in ids] == ["105", "-12", "-99", "10 "]
    assert np.array_equal(ids.numpy(), answers_as_cells(queries))


def test_renderer_onnx_matches_torch(tmp_path):
    model = Renderer(Attention(hidden=16, embed=8, heads=2), CellDecoder(latent=8)).eval()
    inputs = {
        "query": ar.encode(["81+24", "7-19", "0-99"], ar.QUERY_LEN, "right"),
        "style": np.random.default_rng(0).standard_normal((3, 8), np.float32),
    }
    export_onnx(
        model, {k: torch.from_numpy(v) for k, v in inputs.items()}, tmp_path / "m.onnx",
        ["image", "cells"],
    )  # fmt: skip
    assert parity(model, tmp_path / "m.onnx", inputs) < 1e-5


def test_grading_a_perfect_writer_scores_one(judge):
    queries = ["81+24", "7-19", "5+5"]
    perfect = answer_targets(queries, np.random.default_rng(0))  # real handwriting of the answers
    images = perfect.permute(0, 2, 1, 3).reshape(3, 28, 84).numpy()
    scores = grade_renders(images, queries, lambda cells: answers_as_cells(queries).reshape(-1))
    assert scores == {
        "character_accuracy": 1.0,
        "answer_exact_match": 1.0,
        "unused_cells_blank": 1.0,
    }
    assert set(grade_renders(images, queries, judge)) == set(scores)


def test_answer_targets_are_left_aligned_handwriting():
    cells = answer_targets(["5+5", "99+99", "0-7"], np.random.default_rng(0))
    assert cells.shape == (3, 3, 28, 28)
    inked = (cells.amax(dim=(2, 3)) > 0.3).numpy()
    assert inked.tolist() == [[True, True, False], [True, True, True], [True, True, False]]


@pytest.mark.parametrize("objective", ["cvae", "gan", "study"])
def test_each_objective_trains_a_few_batches(objective, judge):
    config = Config(objective=objective, epochs=1, latent=8, width=8)
    model, history = fit_writer(config, judge, Launch.local(progress=False, max_batches=2))
    assert len(history) == 1 and np.isfinite(history[0]["loss"])
    expected = StudyRenderer if objective == "study" else CellDecoder
    assert isinstance(model, expected) and not model.training
    assert "character_accuracy" in history[0] or "judged_right" in history[0]


def test_report_dry_run_writes_table_and_samples(tmp_path, monkeypatch):
    monkeypatch.setattr("training.experiments.text2image_study.GRADED", 200)
    monkeypatch.setattr("training.evaluation.writers.DIVERSITY_QUERIES", 3)
    monkeypatch.setattr("training.evaluation.glyph_judge.copy_threshold", lambda: 1.0)  # saves 30 s
    main(["text2image-report", "--dry-run", "--jobs", "1", "--out", str(tmp_path)])
    results = json.loads((tmp_path / "text2image.json").read_text())
    assert [r["config"]["objective"] for r in results] == ["study", "gan", "cvae"]
    assert all(0 <= r["scores"]["character_accuracy"] <= 1 for r in results)
    assert "| writer |" in (tmp_path / "text2image.md").read_text()
    assert (tmp_path / "text2image.png").stat().st_size > 10_000


def test_nearest_train_distance_finds_training_images():
    train = load_mnist("train")[0][[5, 500, 50_000]].astype(np.float32) / 255
    assert np.allclose(nearest_train_distance(train), 0, atol=0.05)  # copies: 0, up to float32
    shifted = np.roll(train, 3, axis=2)
    assert (nearest_train_distance(shifted) > 2).all()


def test_dry_run_exports_a_model_the_service_accepts(tmp_path, monkeypatch):
    monkeypatch.setattr("training.evaluation.writers.GRADED_PAIRS", 100)
    monkeypatch.setattr("training.evaluation.writers.DIVERSITY_QUERIES", 2)
    monkeypatch.setattr("training.evaluation.glyph_judge.copy_threshold", lambda: 1.0)
    out = tmp_path / "text2image"
    main(["text2image", "--dry-run", "--out", str(out)])
    card = json.loads((out / "card.json").read_text())
    assert card["style"]["latent"] == 32 and card["cell_symbols"] == CELL_SYMBOLS
    assert card["metrics"]["onnx_parity_max_abs_diff"] < 1e-5
    loaded = load_model(out, session_options(1))  # the service's own checks of card and ONNX
    image, cells = loaded.run(
        {"query": ar.encode(["81+24"], 5, "right"), "style": np.zeros((1, 32), np.float32)}
    )
    assert image.shape == (1, 1, 28, 84) and cells.shape == (1, 3)
    card["style"]["latent"] = 16  # a card that disagrees with its ONNX file is refused
    (out / "card.json").write_text(json.dumps(card))
    with pytest.raises(CardError, match="style"):
        load_model(out, session_options(1))
