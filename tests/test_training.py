"""Training runs end to end on tiny budgets; exported models match torch in onnxruntime; the
command line answers without torch and still accepts every shipped model's recorded command."""

import argparse
import importlib
import json
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from training.__main__ import COMMANDS, main
from training.data import arithmetic as ar
from training.engine import Engine
from training.experiments.runner import kept_at, run_all
from training.export import WithSoftmax, export_onnx, sha256, training_record
from training.launch import Launch
from training.models.seq2seq import ARCHITECTURES, align_operands, count_parameters
from training.tasks.text2text import Config, fit

REPO = Path(__file__).resolve().parent.parent


def test_baseline_has_the_study_size():
    # The study's Keras model has 805,133 parameters; torch's LSTMs keep two bias vectors each.
    assert count_parameters(ARCHITECTURES["baseline"]()) == 805_133 + 2 * 1024


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_models_map_queries_to_answer_logits(arch):
    model = ARCHITECTURES[arch]().eval()
    x = torch.from_numpy(ar.encode(["81+24", "5-7"], ar.QUERY_LEN))
    assert model(x).shape == (2, ar.ANSWER_LEN, len(ar.SYMBOLS))


def aligned_text(query: str) -> str:
    """What align_operands should make of a canonical query, worked out on the string."""
    op = "+" if "+" in query else "-"
    a, b = query.split(op)
    return f"{a:>2}{op}{b:>2}"


@pytest.mark.parametrize("side", ar.PADDINGS)
def test_operands_are_aligned_by_place_value_in_every_padding(side):
    queries = ar.all_queries()
    aligned = align_operands(torch.from_numpy(ar.encode(queries, ar.QUERY_LEN, side)))
    expected = ar.encode([aligned_text(q) for q in queries], ar.QUERY_LEN)
    assert torch.equal(aligned, torch.from_numpy(expected))


def test_soft_readings_are_aligned_by_their_likeliest_kind():
    # A strip reader's probabilities: mostly one symbol, a little of every other.
    queries = ["7+3", "81-24", "0-99"]
    hard = torch.from_numpy(ar.encode(queries, ar.QUERY_LEN, "left"))
    soft = 0.9 * hard + 0.1 / len(ar.SYMBOLS)
    aligned = align_operands(soft).argmax(-1)
    expected = ar.encode([aligned_text(q) for q in queries], ar.QUERY_LEN).argmax(-1)
    assert torch.equal(aligned, torch.from_numpy(expected))


def test_a_short_run_learns_something():
    config = Config(arch="baseline", train_fraction=0.5, epochs=3, curve_queries=200)
    _, history, final = fit(config, Launch.local(progress=False, max_batches=20))
    assert len(history) == 3
    assert history[-1]["loss"] < history[0]["loss"]
    assert set(final) == {"exact_match"} | {f"exact_match_{side}_padded" for side in ar.PADDINGS}


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_onnx_export_matches_torch(arch, tmp_path):
    torch.manual_seed(0)
    model = WithSoftmax(ARCHITECTURES[arch]()).eval()
    queries = ar.all_queries()[::37]
    path = tmp_path / "model.onnx"
    export_onnx(model, {"query": torch.from_numpy(ar.encode(queries[:4], 5))}, path, ["probs"])
    for side in ar.PADDINGS:
        x = ar.encode(queries, ar.QUERY_LEN, side)
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        got = session.run(["probs"], {"query": x})[0]
        with torch.no_grad():
            expected = model(torch.from_numpy(x)).numpy()
        np.testing.assert_allclose(got, expected, atol=1e-5)
    assert session.run(["probs"], {"query": x[:1]})[0].shape == (1, 3, 13)


def test_text2text_dry_run_writes_a_consistent_card(tmp_path):
    out = tmp_path / "text2text"
    main(["text2text", "--dry-run", "--out", str(out)])
    card = json.loads((out / "card.json").read_text())
    assert card["name"] == "text2text" and card["task"] == "text2text"
    assert card["sha256"] == sha256(out / "model.onnx")
    assert card["inputs"] == [{"name": "query", "dtype": "float32", "shape": ["batch", 5, 13]}]
    assert card["outputs"] == [{"name": "probs", "dtype": "float32", "shape": ["batch", 3, 13]}]
    assert card["training"]["command"] == f"python -m training text2text --dry-run --out {out}"
    assert card["metrics"]["onnx_parity_max_abs_diff"] < 1e-5
    _, held_out = ar.split(ar.all_queries(), 0.5, seed=0)
    assert card["dataset"]["split"]["held_out_sha256"] == ar.fingerprint(held_out)


def test_split_sweep_dry_run_writes_the_report(tmp_path):
    main(["split-sweep", "--dry-run", "--jobs", "2", "--out", str(tmp_path)])
    table = (tmp_path / "split_sweep.md").read_text()
    assert "| 5% |" in table and "| 10% |" in table
    assert (tmp_path / "split_sweep.png").read_bytes()[:4] == b"\x89PNG"
    results = json.loads((tmp_path / "split_sweep.json").read_text())
    assert sorted((r["arch"], r["train_fraction"], r["seed"]) for r in results) == sorted(
        (a, f, s) for a in ("place-value", "baseline") for f in (0.05, 0.10) for s in (0, 1)
    )
    assert "±" in table


def twice(run: int, engine: Engine) -> dict:
    return {"run": run, "twice": 2 * run}


def refuse(run: int, engine: Engine) -> dict:
    raise AssertionError(f"run {run} was kept, yet run again")


def test_a_study_resumes_from_the_runs_it_kept(tmp_path):
    engine = Engine.local()
    first = run_all(twice, [1, 2, 3], 2, engine, "first", keep=tmp_path)
    assert first == [{"run": r, "twice": 2 * r} for r in (1, 2, 3)]
    assert len(list(tmp_path.glob("*.json"))) == 3
    assert run_all(refuse, [1, 2, 3], 2, engine, "again", keep=tmp_path, reuse=True) == first
    with pytest.raises(AssertionError, match="run 1 was kept"):
        run_all(refuse, [1], 1, engine, "without reuse", keep=tmp_path)


@dataclass(frozen=True)
class Before:
    latent: int
    epochs: int = 10


@dataclass(frozen=True)
class After(Before):
    depth: int = 0  # added later; 0 is what every earlier run did


def test_a_kept_result_keeps_its_name_when_a_setting_with_a_default_is_added(tmp_path):
    assert kept_at(tmp_path, Before(32)) == kept_at(tmp_path, After(32))
    assert kept_at(tmp_path, Before(32, 20)) == kept_at(tmp_path, After(32, 20))
    assert kept_at(tmp_path, After(32, depth=1)) != kept_at(tmp_path, After(32))
    assert kept_at(tmp_path, Before(32)) != kept_at(tmp_path, Before(64))


def test_the_overview_needs_no_torch():
    probe = (
        "import sys\nfrom training.__main__ import main\ntry:\n    main(['--help'])\n"
        "except SystemExit:\n    pass\nprint('torch' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0 and done.stdout.strip().endswith("False"), done.stderr
    assert "text2text" in done.stdout and "generative-study" in done.stdout


CARDS = sorted(REPO.glob("exported/*/card.json")) + [REPO / "reports" / "judge" / "card.json"]


@pytest.mark.parametrize("card", CARDS, ids=lambda p: p.parent.name)
def test_every_shipped_models_commands_still_parse(card):
    """The command in a card rebuilds the model: today's command line must still accept it."""
    recorded = json.loads(card.read_text())
    commands = [recorded["training"]["command"]] + [
        recorded["metrics"][key] for key in ("domain_fid_command", "inception_fid_command")
        if key in recorded["metrics"]
    ]  # fmt: skip
    for command in commands:
        name, *rest = shlex.split(command)[3:]
        parser = argparse.ArgumentParser()
        importlib.import_module(COMMANDS[name][0]).add_arguments(parser)
        parser.parse_args(rest)  # exits (a test failure) on a flag it no longer knows


def test_a_resumed_runs_card_counts_every_epochs_time():
    """A resumed run's process saw only its last epochs; the card's time is the whole run's."""
    history = [
        {"epoch": 1, "loss": 2.0, "seconds": 100.0},
        {"epoch": 2, "loss": 1.0, "seconds": 90.0},
    ]
    resumed = training_record("cmd", {}, 12.0, history, Engine.local())
    fresh = training_record("cmd", {}, 230.0, history, Engine.local())  # solver and evaluation too
    assert (resumed["seconds"], fresh["seconds"]) == (190.0, 230.0)


def test_a_card_says_when_a_resume_extended_the_runs_schedule():
    """30 epochs planned, then resumed to 40: the card shows both plans and their epochs."""
    history = [{"epoch": e, "loss": 1.0, "planned_epochs": 30 if e <= 2 else 40} for e in (1, 2, 3)]
    assert training_record("cmd", {}, 1.0, history, Engine.local())["schedule"] == [
        {"first_epoch": 1, "last_epoch": 2, "planned_epochs": 30},
        {"first_epoch": 3, "last_epoch": 3, "planned_epochs": 40},
    ]
