"""Strip readers: shapes, the cell split, metrics, a tiny fit, ONNX parity, and the CLI dry runs."""

import json
from dataclasses import replace

import numpy as np
import onnxruntime as ort
import pytest
import torch
from PIL import Image

from training.__main__ import main
from training.data import arithmetic as ar
from training.data import strip_variants
from training.data.strips import draw, pixels
from training.evaluation.strip_reading import correct, evaluation_sets, solve, variant_sets
from training.export import export_onnx, sha256
from training.launch import Launch
from training.models.seq2seq import Attention, count_parameters
from training.models.strip_readers import (
    ARCHITECTURES,
    Committee,
    Flatten,
    Probabilities,
    StripReader,
    per_cell,
)
from training.tasks.image2text import DRY_RUN_STRIPS, Config, Image2Text, fit

QUERIES = ar.all_queries()[::401]  # 50 queries, both operators


@pytest.fixture(scope="module")
def strips():
    return draw(QUERIES, "test", np.random.default_rng(0), ("right", "left"), "left")


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_models_map_strips_to_logits(arch, strips):
    model = ARCHITECTURES[arch]().eval()
    out = model(pixels(strips.pixels[:3]))
    shapes = {"answer": (3, 3, 13), "symbols": (3, 5, 13)}
    assert out and {name: tuple(v.shape) for name, v in out.items()} == {
        name: shapes[name] for name in out
    }
    assert ("answer" in out) == (arch != "cell-classifier")
    assert ("symbols" in out) == (arch in ("ours", "cell-classifier"))


def test_cells_are_read_left_to_right():
    strip = torch.arange(5.0).repeat_interleave(28).expand(2, 1, 28, 140)
    cells = per_cell(Flatten(), strip)
    assert cells.shape == (2, 5, 784)
    assert torch.equal(cells, torch.arange(5.0)[None, :, None].expand(2, 5, 784))


def test_the_text_model_is_unchanged():
    # The text2text model shipped until place-value: 1,061,133 parameters; in_features defaults
    # to the symbols.
    assert count_parameters(Attention()) == 1_061_133
    assert Attention(in_features=128).embed.in_features == 128


def test_solve_counts_unreadable_expressions_as_wrong():
    assert solve("81+24") == "105" and solve("5-7") == "-2"
    assert [solve(e) for e in ("", "8+", "+5", "1 2+3", "123+4", "5+-3", "5--3")] == [None] * 7


class Oracle(torch.nn.Module):
    """Answers and reads exactly what the strips show (needs no pixels)."""

    def __init__(self, strips, outputs):
        super().__init__()
        self.logits = {
            "answer": torch.nn.functional.one_hot(strips.answers, 13).float(),
            "symbols": torch.nn.functional.one_hot(strips.symbols, 13).float(),
        }
        self.outputs = outputs

    def forward(self, strip):
        return {name: self.logits[name][: len(strip)] for name in self.outputs}


@pytest.mark.parametrize("outputs", [("answer", "symbols"), ("symbols",), ("answer",)])
def test_metrics_of_a_perfect_reader(strips, outputs):
    right = correct(Oracle(strips, outputs), strips, "left")
    assert right["answer"].all() and right["answer_symbol"].all()
    assert ("expression" in right) == ("symbols" in outputs)
    assert right.get("expression", np.array([True])).all()


def test_evaluation_sets_are_padded_each_way_and_hold_unseen_queries():
    _, unseen_q = ar.split(ar.all_queries(), 0.9, 0)
    held_out, unseen = evaluation_sets(Config(eval_strips=40, unseen_strips=30), unseen_q)
    assert {side: len(s) for side, s in held_out.items()} == {"right": 20, "left": 20}
    assert all(not t.startswith(" ") for t in held_out["right"].texts)
    assert all(not t.endswith(" ") for t in held_out["left"].texts)
    assert len(unseen) == 30 and {t.strip() for t in unseen.texts} <= set(unseen_q)


def test_variants_reach_the_model_as_the_service_reads_them(strips):
    drawn = strips.pixels.numpy()
    served = {
        v: strip_variants.as_served(drawn, v, np.random.default_rng(0))
        for v in strip_variants.VARIANTS
    }
    assert all(s.shape == drawn.shape and s.dtype == np.uint8 for s in served.values())
    clean = served["clean"].astype(int)
    # inverted and inverted back, or a lossless round trip: the same pixels within rounding
    assert np.abs(served["dark_on_light"].astype(int) - clean).max() <= 1
    for variant, most in [("jpeg", 20), ("scaled", 10), ("photo", 50)]:
        error = np.abs(served[variant].astype(int) - clean).mean()
        assert 0 < error < most, f"{variant}: mean difference {error:.1f} grey levels"
    for variant in ("jpeg", "photo"):
        data = strip_variants.upload(drawn[0], variant, np.random.default_rng(0))
        assert data[:2] == b"\xff\xd8"  # sent as a JPEG
    with pytest.raises(ValueError, match="unknown strip variant 'fax'"):
        strip_variants.upload(drawn[0], "fax", np.random.default_rng(0))


def test_variant_sets_hold_the_same_held_out_strips_sent_each_way():
    _, unseen_q = ar.split(ar.all_queries(), 0.9, 0)
    config = Config(eval_strips=40, unseen_strips=10, variant_strips=10)
    held_out, _ = evaluation_sets(config, unseen_q)
    sets = variant_sets(config, held_out)
    assert set(sets) == set(strip_variants.VARIANTS)
    expected = held_out["right"].texts[:5] + held_out["left"].texts[:5]
    assert all(s.texts == expected for s in sets.values())
    assert not torch.equal(sets["clean"].pixels, sets["photo"].pixels)


def test_a_tiny_fit_lowers_the_loss():
    config = Config(epochs=3, batch_size=32, eval_strips=20, unseen_strips=10, variant_strips=10)
    model, history, final = fit(config, Launch.local(progress=False, max_batches=6))
    assert isinstance(model, StripReader) and len(history) == 3
    assert history[-1]["loss"] < history[0]["loss"]
    assert {"answer_exact_match", "expression_exact_match_left_padded"} <= set(final)
    assert "unseen_queries_answer_exact_match" in final
    assert {f"sent_{v}_answer_exact_match" for v in strip_variants.VARIANTS} <= set(final)


def test_hard_symbols_give_the_solver_the_expression_read_and_pass_gradients_back(strips):
    torch.manual_seed(0)
    model = StripReader(text_model="place-value", hard_symbols=True)
    x = pixels(strips.pixels[:6])
    out = model.eval()(x)
    read = torch.nn.functional.one_hot(out["symbols"].argmax(-1), 13).float()
    assert torch.allclose(out["answer"], model.solver(read), atol=1e-5)
    model.train()(x)["answer"].sum().backward()
    assert model.reader.head.weight.grad.abs().sum() > 0  # straight through to the reader
    with pytest.raises(ValueError, match="hard_symbols needs from_symbols"):
        StripReader(from_symbols=False, hard_symbols=True)


def test_views_average_the_cells_over_shifted_strips_in_eval_mode_only(strips):
    torch.manual_seed(0)
    model = StripReader(text_model="place-value", hard_symbols=True, convs=2, views=5)
    x = pixels(strips.pixels[:6])
    with torch.no_grad():
        shifted = [model.reader.eval().read(x.roll(s, dims=(2, 3)))[1] for s in model.views]
        averaged = torch.stack([s.softmax(-1) for s in shifted]).mean(0)
        np.testing.assert_allclose(model.eval()(x)["symbols"].softmax(-1), averaged, atol=1e-6)
        assert not torch.equal(shifted[0], shifted[1])  # the views differ
    assert model.train()(x)["symbols"].shape == (6, 5, 13)  # training reads each strip once
    with pytest.raises(ValueError, match="views must be one of"):
        StripReader(views=4)


def readers(n: int, **options) -> list[StripReader]:
    """``n`` readers of ours, each from its own random start (as members trained apart)."""
    torch.manual_seed(0)
    return [StripReader(**(Config().model | options)).eval() for _ in range(n)]


def test_a_committee_reads_by_its_members_mean_and_answers_what_it_read(strips):
    members = readers(2)
    x = pixels(strips.pixels[:6])
    with torch.no_grad():
        read = [member.reader.read(x)[1].softmax(-1) for member in members]
        out = Committee(members).eval()(x)
    mean = torch.stack(read).mean(0)
    assert not torch.equal(read[0].argmax(-1), read[1].argmax(-1))  # the members disagree
    np.testing.assert_allclose(out["symbols"].softmax(-1), mean, atol=1e-6)
    one_hot = torch.nn.functional.one_hot(mean.argmax(-1), 13).float()
    assert torch.allclose(out["answer"], members[0].solver(one_hot), atol=1e-5)
    with pytest.raises(ValueError, match="committee"):
        Committee(readers(1, views=5))


EXPORTED = {
    "attention": lambda: StripReader(),
    "place-value": lambda: StripReader(text_model="place-value", hard_symbols=True),
    "shifted views": lambda: StripReader(**{**Config().model, "views": 5}),  # views in ONNX
    "committee": lambda: Committee(readers(2)),
}


@pytest.mark.parametrize("kind", EXPORTED)
def test_onnx_export_of_ours_matches_torch(strips, tmp_path, kind):
    torch.manual_seed(0)
    model = Probabilities(EXPORTED[kind]()).eval()
    x = pixels(strips.pixels).numpy()
    path = tmp_path / "model.onnx"
    export_onnx(model, {"strip": torch.from_numpy(x[:4])}, path, ["answer", "symbols"])
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(["answer", "symbols"], {"strip": x})
    with torch.no_grad():
        expected = model(torch.from_numpy(x))
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_allclose(g, e.numpy(), atol=1e-5)
    assert [o.shape for o in session.run(None, {"strip": x[:1]})] == [(1, 3, 13), (1, 5, 13)]


def test_image2text_dry_run_writes_a_consistent_card(tmp_path):
    out = tmp_path / "image2text"
    main(["image2text", "--dry-run", "--out", str(out)])
    card = json.loads((out / "card.json").read_text())
    assert card["task"] == "image2text" and card["sha256"] == sha256(out / "model.onnx")
    assert card["inputs"] == [{"name": "strip", "dtype": "float32", "shape": ["batch", 1, 28, 140]}]
    assert [(o["name"], o["shape"]) for o in card["outputs"]] == [
        ("answer", ["batch", 3, 13]),
        ("symbols", ["batch", 5, 13]),
    ]
    assert card["cell"] == {"height": 28, "width": 28, "cells": 5}
    assert card["polarity"] == "light on dark" and card["symbols"] == ar.SYMBOLS
    assert card["training"]["command"] == f"python -m training image2text --dry-run --out {out}"
    assert card["metrics"]["held_out_strips"] == card["dataset"]["strips"]["held_out"] == 40
    assert card["metrics"]["onnx_parity_max_abs_diff"] < 1e-5


def test_image2text_dry_run_of_a_committee_trains_each_member_as_its_own_seed(tmp_path):
    out, runs = tmp_path / "image2text", tmp_path / "runs"
    main(["image2text", "--dry-run", "--members", "2", "--out", str(out), "--run-dir", str(runs)])
    card = json.loads((out / "card.json").read_text())
    members = card["training"]["members"]
    assert [m["seed"] for m in members] == [0, 1] and card["training"]["config"]["members"] == 2
    for k, member in enumerate(members):
        saved = torch.load(runs / f"member-{k}" / "checkpoint.pt", weights_only=True)
        assert saved["config"]["seed"] == k and saved["history"][-1]["loss"] == member["final_loss"]
    assert "mean of 2 readers" in card["readout"]["views"]
    assert card["metrics"]["onnx_parity_max_abs_diff"] < 1e-5


def test_a_resume_may_change_how_the_model_reads_but_not_the_network():
    config = replace(Config(), **DRY_RUN_STRIPS)
    task, now = Image2Text(config, max_batches=1), config.to_dict()
    five_views = replace(config, epochs=40, model={**config.model, "views": 5}).to_dict()
    narrower = replace(config, model={**config.model, "features": 128}).to_dict()
    assert task.to_match(five_views) == task.to_match(now) != task.to_match(narrower)


def test_image2text_report_dry_run_writes_the_report(tmp_path):
    main(["image2text-report", "--dry-run", "--out", str(tmp_path)])
    table = (tmp_path / "image2text.md").read_text()
    assert "| ours |" in table and "| classify then compute |" in table
    assert (tmp_path / "image2text.png").read_bytes()[:4] == b"\x89PNG"
    results = json.loads((tmp_path / "image2text.json").read_text())
    assert {r["config"]["arch"] for r in results} == set(ARCHITECTURES)
    assert {r["config"]["augment"] for r in results if r["config"]["arch"] == "ours"} == {
        True,
        False,
    }


def test_strip_command_draws_a_query_for_the_service(tmp_path):
    main(["strip", "81+24", "--out", str(tmp_path / "a.png"), "--dark-on-light"])
    main(["strip", "7-19", "--out", str(tmp_path / "b.png"), "--padding", "left", "--seed", "3"])
    main(["strip", "7-19", "--out", str(tmp_path / "c.jpg"), "--variant", "photo"])
    assert Image.open(tmp_path / "c.jpg").format == "JPEG"
    a, b = (np.asarray(Image.open(tmp_path / f"{n}.png")) for n in "ab")
    assert a.shape == b.shape == (28, 140)
    assert np.median(a) == 255 and np.median(b) == 0  # paper white, or MNIST black
    assert not b[:, :28].any() and b[:, 28:].any()  # left padding: the first cell is blank
    with pytest.raises(SystemExit, match="not A\\+B"):
        main(["strip", "810+2", "--out", str(tmp_path / "c.png")])
