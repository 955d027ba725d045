"""The training engine: two processes under torchrun (gloo) train as one with the same global
batch, write each artifact once, and hand a checkpoint to one process; DataLoader workers do not
change the batches; the runtime flags fail clearly where the machine cannot follow them."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from training.__main__ import main
from training.data import arithmetic as ar
from training.devices import mixed_precision, pick_device
from training.engine import Engine
from training.models.seq2seq import ARCHITECTURES
from training.runtime import Runtime
from training.tasks.image2text import Config as ImageConfig
from training.tasks.image2text import Image2Text

REPO = Path(__file__).resolve().parent.parent
PER_PROCESS = 32
# The study's baseline: no dropout, no BatchNorm, so one process and two see the same maths.
TEXT = ["text2text", "--arch", "baseline", "--dry-run", "--epochs", "1"]


def torchrun(*args: str, processes: int = 2) -> subprocess.CompletedProcess:
    """``torchrun --nproc-per-node N -m training ...`` on the CPU, one thread per process."""
    launcher = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(processes)]
    return subprocess.run([*launcher, "-m", "training", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=300)  # fmt: skip


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory) -> Path:
    """One epoch of 2 steps of the text model on two processes, batch 32 each."""
    folder = tmp_path_factory.mktemp("ddp")
    done = torchrun(*TEXT, "--batch-size", str(PER_PROCESS), "--run-dir", str(folder / "run"),
                    "--out", str(folder / "model"))  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return folder


def weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return torch.load(run_dir / "checkpoint.pt", weights_only=True)["models"]["model"]


def test_two_processes_train_as_one_with_the_same_global_batch(two_processes, tmp_path):
    main([*TEXT, "--batch-size", str(2 * PER_PROCESS), "--run-dir", str(tmp_path / "run"),
          "--out", str(tmp_path / "model")])  # fmt: skip
    two, one = weights(two_processes / "run"), weights(tmp_path / "run")
    torch.manual_seed(0)  # the engine seeds the weights with the config's seed
    start = ARCHITECTURES["baseline"](n_symbols=len(ar.SYMBOLS), answer_len=ar.ANSWER_LEN)
    assert two.keys() == one.keys() == start.state_dict().keys()
    for name, initial in start.state_dict().items():
        # Within float tolerance: Adam's first steps amplify rounding where a gradient is ~0.
        torch.testing.assert_close(two[name], one[name], rtol=0, atol=1e-4, msg=name)
        moved, apart = (one[name] - initial).abs().mean(), (two[name] - one[name]).abs().mean()
        assert apart < 0.01 * moved, (name, apart, moved)
    saved = torch.load(two_processes / "run" / "checkpoint.pt", weights_only=True)
    assert saved["world_size"] == 2 and [h["epoch"] for h in saved["history"]] == [1]


def test_rank_zero_alone_writes_and_the_card_records_the_global_batch(two_processes):
    assert sorted(p.name for p in (two_processes / "model").iterdir()) == [
        "card.json",
        "model.onnx",
    ]
    events = list((two_processes / "run" / "tensorboard").iterdir())
    assert len(events) == 1, events  # one event file: rank 1 logs nothing
    tags = EventAccumulator(str(events[0])).Reload().Tags()["scalars"]
    assert {"epoch/loss", "epoch/lr", "epoch/exact_match"} <= set(tags)
    training = json.loads((two_processes / "model" / "card.json").read_text())["training"]
    assert training["runtime"]["world_size"] == 2 and training["runtime"]["device"] == "cpu"
    assert training["global_batch_size"] == 2 * PER_PROCESS


def test_a_checkpoint_of_two_processes_resumes_on_one(two_processes, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "checkpoint.pt").write_bytes((two_processes / "run" / "checkpoint.pt").read_bytes())
    main([*TEXT[:-1], "2", "--batch-size", str(PER_PROCESS), "--run-dir", str(run), "--resume",
          "--out", str(tmp_path / "model")])  # fmt: skip
    saved = torch.load(run / "checkpoint.pt", weights_only=True)
    assert saved["world_size"] == 1 and [h["epoch"] for h in saved["history"]] == [1, 2]
    card = json.loads((tmp_path / "model" / "card.json").read_text())
    assert card["training"]["runtime"]["world_size"] == 1


def test_the_gan_trains_its_two_networks_on_two_processes(tmp_path):
    done = torchrun("generative", "--model", "gan", "--dry-run", "--filters", "8", "--epochs", "1",
                    "--out", str(tmp_path / "run"))  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    saved = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    assert set(saved["models"]) == {"generator", "discriminator", "generator_average"}
    assert (tmp_path / "run" / "samples" / "epoch_001.png").is_file()


def first_batches(workers: int, steps: int = 2) -> list[tuple[torch.Tensor, ...]]:
    config = ImageConfig(eval_strips=4, unseen_strips=2, batch_size=8)
    task = Image2Text(config, max_batches=steps)
    engine = Engine.local(Runtime(device="cpu", workers=workers))
    return list(engine.batches(engine.loader(task), epoch=3, steps=steps))


def test_dataloader_workers_do_not_change_the_batches():
    alone, with_workers = first_batches(0), first_batches(2)
    assert len(alone) == len(with_workers) == 2
    for a, b in zip(alone, with_workers, strict=True):
        for x, y in zip(a, b, strict=True):
            assert torch.equal(x, y)
    assert not torch.equal(alone[0][0], first_batches(0)[1][0])  # and the batches differ


@pytest.mark.parametrize(
    "flags", [["--device", "cuda"], ["--device", "cuda:3"], ["--device", "tpu"]]
)
def test_a_device_that_is_not_here_is_one_line_and_exit_2(flags):
    done = subprocess.run([sys.executable, "-m", "training", "judge", "--dry-run", *flags],
                          cwd=REPO, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0, done.stderr
    assert f"{flags[1]} is not available here; available: cpu" in done.stderr


def test_auto_picks_the_cpu_here():
    assert pick_device("auto") == torch.device("cpu")


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_dry_runs_on_the_cpu(precision, tmp_path):
    main(["judge", "--dry-run", "--precision", precision, "--out", str(tmp_path / "judge"),
          "--run-dir", str(tmp_path / "run")])  # fmt: skip
    card = json.loads((tmp_path / "judge" / "card.json").read_text())
    assert card["training"]["runtime"]["precision"] == precision
    assert np.isfinite(card["training"]["final_loss"])


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_an_lstm_steps_in_mixed_precision_on_any_cpu(precision):
    """oneDNN trains no bf16/fp16 LSTM on an AVX2 CPU, nor an fp16 one on a Xeon with AMX:
    PyTorch's own LSTM must run it there."""
    lstm = torch.nn.LSTM(13, 8, batch_first=True)
    with mixed_precision(torch.device("cpu"), precision)():
        out, _ = lstm(torch.randn(2, 5, 13))
    out.float().sum().backward()
    assert lstm.weight_ih_l0.grad is not None and torch.backends.mkldnn.enabled


def test_bf16_runs_the_recurrent_text_model(tmp_path):
    main([*TEXT, "--precision", "bf16", "--out", str(tmp_path / "model"),
          "--run-dir", str(tmp_path / "run")])  # fmt: skip
    assert (tmp_path / "model" / "model.onnx").is_file()


def test_compile_trains_the_judge(tmp_path):
    main(["judge", "--dry-run", "--compile", "--out", str(tmp_path / "judge"),
          "--run-dir", str(tmp_path / "run")])  # fmt: skip
    card = json.loads((tmp_path / "judge" / "card.json").read_text())
    assert card["training"]["runtime"]["compile"] is True
    assert card["metrics"]["onnx_parity_max_abs_diff"] < 1e-5  # exported from the plain module


def test_channels_last_trains_the_gan_in_that_layout_to_the_same_losses(tmp_path):
    def run(*flags: str) -> tuple[list[dict], dict]:
        out = tmp_path / ("-".join(flags) or "default")
        main(["generative", "--model", "gan", "--dry-run", "--filters", "8", "--epochs", "1",
              "--out", str(out / "run"), "--export", str(out / "export"), *flags])  # fmt: skip
        saved = torch.load(out / "run" / "checkpoint.pt", weights_only=True)
        conv = saved["models"]["discriminator"]["encoder.layers.2.weight"]  # [16, 8, 4, 4]
        assert conv.is_contiguous(memory_format=torch.channels_last) == bool(flags)
        return saved["history"], json.loads((out / "export" / "card.json").read_text())

    (default, _), (nhwc, card) = run(), run("--channels-last")
    assert card["training"]["runtime"]["channels_last"] is True
    assert card["metrics"]["onnx_parity_max_abs_diff"] < 1e-4
    for a, b in zip(default, nhwc, strict=True):
        assert b["loss"] == pytest.approx(a["loss"], rel=1e-4)
        assert b["loss_discriminator"] == pytest.approx(a["loss_discriminator"], rel=1e-4)
