"""Training the VAE and DCGAN: a tiny run writes samples, losses and a checkpoint, and resumes."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from training.launch import Launch
from training.tasks.generative import fit
from training.tasks.generative_tasks import Config, sampler
from training.tasks.run_pictures import grid


@pytest.fixture
def faces(tmp_path):
    """A ready (N, 32, 32, 3) uint8 .npy, as a CelebA user might bring it (smaller)."""
    path = tmp_path / "faces.npy"
    np.save(path, np.random.default_rng(0).integers(0, 256, (64, 32, 32, 3), dtype=np.uint8))
    return path


@pytest.mark.parametrize("model", ["vae", "gan"])
def test_a_tiny_run_writes_what_people_look_at(model, faces, tmp_path):
    config = Config(model=model, data=str(faces), size=32, channels=3, latent=8, filters=8,
                    epochs=2, batch_size=16, grid=9)  # fmt: skip
    _, history = fit(config, Launch.local(run_dir=tmp_path / "run", progress=False, max_batches=2))
    assert [h["epoch"] for h in history] == [1, 2]
    assert all(np.isfinite(v) for h in history for v in h.values())
    files = {p.relative_to(tmp_path / "run").as_posix() for p in (tmp_path / "run").rglob("*")}
    assert {"samples/epoch_001.png", "samples/epoch_002.png", "losses.json", "losses.png",
            "checkpoint.pt"} <= files  # fmt: skip


@pytest.mark.parametrize("model", ["vae", "gan"])
def test_resume_continues_where_the_run_stopped(model, faces, tmp_path):
    config = Config(model=model, data=str(faces), size=32, channels=3, latent=8, filters=8,
                    epochs=1, batch_size=16)  # fmt: skip
    fit(config, Launch.local(run_dir=tmp_path / "run", progress=False, max_batches=2))
    # Longer, and another latent prior: the prior is fitted anew at every resume.
    longer = Config(**{**config.to_dict(), "epochs": 3, "prior_hidden": 16})
    _, history = fit(
        longer, Launch.local(run_dir=tmp_path / "run", resume=True, progress=False, max_batches=2)
    )
    assert [h["epoch"] for h in history] == [1, 2, 3]
    assert json.loads((tmp_path / "run" / "losses.json").read_text()) == history
    other = Config(**{**config.to_dict(), "latent": 4})
    with pytest.raises(ValueError, match="another config"):
        fit(
            other,
            Launch.local(run_dir=tmp_path / "run", resume=True, progress=False, max_batches=2),
        )


def test_grid_lays_images_out_as_the_service_does():
    images = torch.zeros(5, 1, 2, 2)
    images[4] = 1.0
    picture = grid(images)
    assert picture.shape == (4, 6) and picture[2:4, 2:4].min() == 255 and picture.sum() == 4 * 255


def test_command_line_dry_run_on_user_images(faces, tmp_path):
    from training.__main__ import main

    args = ["--data", str(faces), "--size", "32", "--channels", "3", "--filters", "8",
            "--gan-loss", "hinge", "--spectral-norm", "--lr-decay",
            "--consistency", "10"]  # fmt: skip
    main(["generative", "--model", "gan", *args, "--dry-run", "--out", str(tmp_path / "gan")])
    assert sorted(p.name for p in (tmp_path / "gan" / "samples").iterdir()) == [
        "epoch_001.png",
        "epoch_002.png",
    ]


def test_the_gan_samples_from_its_moving_average(faces, tmp_path):
    config = Config(model="gan", data=str(faces), size=32, channels=3, latent=8, filters=8,
                    epochs=1, batch_size=16, ema=0.5)  # fmt: skip
    models, _ = fit(config, Launch.local(run_dir=tmp_path / "run", progress=False, max_batches=3))
    averaged, trained = sampler(models), models["generator"]
    assert averaged is not trained
    z = torch.randn(4, 8)
    with torch.no_grad():
        assert not torch.allclose(averaged.eval()(z), trained.eval()(z))
    plain, _ = fit(
        Config(**{**config.to_dict(), "ema": 0.0}),
        Launch.local(run_dir=tmp_path / "plain", progress=False, max_batches=3),
    )
    assert sampler(plain) is plain["generator"]


def test_the_discriminator_may_learn_at_its_own_rate(faces):
    from training.tasks.generative_tasks import GANTask

    def rates(**settings) -> dict[str, float]:
        task = GANTask(Config(model="gan", data=str(faces), size=32, channels=3, latent=8,
                              filters=8, lr=2e-4, **settings))  # fmt: skip
        task.models = task.build()
        return {name: o.param_groups[0]["lr"] for name, o in task.optimizers().items()}

    assert rates() == {"generator": 2e-4, "discriminator": 2e-4}
    assert rates(lr_discriminator=4e-4) == {"generator": 2e-4, "discriminator": 4e-4}


def test_the_generator_may_be_wider_than_the_discriminator(faces):
    from training.tasks.generative_tasks import GANTask

    def widths(**settings) -> tuple[int, int]:
        task = GANTask(Config(model="gan", data=str(faces), size=32, channels=3, latent=8,
                              filters=8, **settings))  # fmt: skip
        models = task.build()
        return models["generator"].chans[-1], models["discriminator"].encoder.layers[0].out_channels

    assert widths() == (8, 8)
    assert widths(generator_filters=16) == (16, 8)


def test_the_discriminator_may_be_deeper(faces):
    """``discriminator_depth`` adds 3x3 convs, each its own weights, at every scale of the
    discriminator alone; 0 builds the DCGAN's, so earlier checkpoints still load."""
    from training.tasks.generative_tasks import GANTask

    def built(**settings) -> tuple[list[torch.nn.Conv2d], int]:
        """The discriminator's convs and the generator's parameter count."""
        task = GANTask(Config(model="gan", data=str(faces), size=32, channels=3, latent=8,
                              filters=8, **settings))  # fmt: skip
        models = task.build()
        layers = models["discriminator"].encoder.layers
        generator = sum(p.numel() for p in models["generator"].parameters())
        return [m for m in layers if isinstance(m, torch.nn.Conv2d)], generator

    (plain, generator), (deep, same_generator) = built(), built(discriminator_depth=2)
    steps = len(plain)
    assert [m.kernel_size for m in plain] == [(4, 4)] * steps
    assert len(deep) == 3 * steps and len({id(m.weight) for m in deep}) == len(deep)
    assert [m.kernel_size for m in deep[:3]] == [(4, 4), (3, 3), (3, 3)]
    assert generator == same_generator


def test_the_consistency_penalty_is_part_of_the_discriminators_loss(faces, tmp_path):
    def first_loss(consistency: float) -> float:
        config = Config(model="gan", data=str(faces), size=32, channels=3, latent=8, filters=8,
                        epochs=1, batch_size=16, consistency=consistency)  # fmt: skip
        launch = Launch.local(run_dir=tmp_path / str(consistency), progress=False, max_batches=1)
        return fit(config, launch)[1][0]["loss_discriminator"]

    plain = first_loss(0.0)  # the same draws up to the penalty's, which come after the scores
    assert first_loss(0.0) == plain and first_loss(10.0) > plain + 1e-4


def test_the_study_command_writes_its_report(faces, tmp_path):
    from training.__main__ import main

    args = ["--data", str(faces), "--size", "32", "--channels", "3", "--jobs", "1",
            "--gan-diffaugment", "translation"]  # fmt: skip
    main(["generative-study", *args, "--dry-run", "--out", str(tmp_path)])
    report = (tmp_path / "generative_study.md").read_text()
    assert "DiffAugment `translation`" in report and "8 filters" in report
    assert "a flow prior fitted to its codes after training (prior epochs: 1)" in report
    runs = [line for line in report.splitlines() if line.startswith(("| VAE", "| GAN"))]
    assert [r.split("|")[1:3] for r in runs] == [
        [f" {m} ", f" {z} "] for m, zs in [("VAE", (32, 64, 128)), ("GAN", (64, 128, 256))]
        for z in zs]  # fmt: skip
    for run in ("vae-32", "gan-256"):
        for kind in ("first", "last", "interpolation"):
            assert (tmp_path / "generative_study" / f"{run}-{kind}.png").is_file()
    through_prior = (tmp_path / "runs" / "vae-32" / "samples" / "latent_prior.png").read_bytes()
    assert (tmp_path / "generative_study" / "vae-32-last.png").read_bytes() == through_prior
    row = np.asarray(Image.open(tmp_path / "generative_study" / "vae-64-interpolation.png"))
    assert row.shape == (32, 10 * 32, 3)
    checkpoints = sorted((tmp_path / "runs").glob("*/checkpoint.pt"))
    assert len(checkpoints) == 6
    written = [c.stat().st_mtime_ns for c in checkpoints]
    main(["generative-study", *args, "--dry-run", "--out", str(tmp_path), "--resume"])
    assert [c.stat().st_mtime_ns for c in checkpoints] == written  # kept results, not retrained
    again = (tmp_path / "generative_study.md").read_text()
    assert again.replace(" --resume", "") == report


def test_the_moving_average_warms_up_then_keeps_its_decay():
    """After n updates of a parameter from 0 to 1 each step, the average is 1 - prod(rates)."""
    from training.task import moving_average

    layer = torch.nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        layer.weight.zero_()
    average = moving_average(layer, decay=0.9)
    average.update_parameters(layer)  # the first update copies
    with torch.no_grad():
        layer.weight.fill_(1.0)
    kept = 1.0
    for n in range(1, 40):
        average.update_parameters(layer)
        kept *= min(0.9, (1 + n) / (10 + n))
    assert average.module.weight.item() == pytest.approx(1 - kept, rel=1e-5)
    assert kept < 0.9**39 * 2**-1  # warm-up: less of the start than a fixed 0.9 would keep


def test_resume_takes_a_setting_newer_than_the_checkpoint_as_todays(faces, tmp_path):
    """A checkpoint written before a config field existed resumes (the field is today's)."""
    config = Config(model="vae", data=str(faces), size=32, channels=3, latent=8, filters=8,
                    epochs=1, batch_size=16)  # fmt: skip
    run = tmp_path / "run"
    fit(config, Launch.local(run_dir=run, progress=False, max_batches=2))
    saved = torch.load(run / "checkpoint.pt", weights_only=True)
    del saved["config"]["likelihood"]  # as written before --likelihood existed
    torch.save(saved, run / "checkpoint.pt")
    longer = Config(**{**config.to_dict(), "epochs": 2})
    _, history = fit(longer, Launch.local(run_dir=run, resume=True, progress=False, max_batches=2))
    assert [h["epoch"] for h in history] == [1, 2]


def test_a_conditional_gan_trains_on_fashion_classes_and_exports_one_input(tmp_path):
    """``--conditional`` (with bCR, whose judges carry the labels too): the exported generator
    still takes ``z`` alone, and onnxruntime draws what torch draws."""
    from training.__main__ import main

    args = ["--conditional", "--limit", "64", "--latent", "16", "--filters", "8",
            "--consistency", "10", "--batch-size", "16"]  # fmt: skip
    main(["generative", "--model", "gan", *args, "--dry-run", "--out", str(tmp_path / "run"),
          "--export", str(tmp_path / "export")])  # fmt: skip
    card = json.loads((tmp_path / "export" / "card.json").read_text())
    assert card["training"]["config"]["conditional"] is True
    assert card["description"].startswith("Class-conditional DCGAN generator")
    assert [i["name"] for i in card["inputs"]] == ["z"] and card["inputs"][0]["shape"][1] == 16
    assert card["metrics"]["onnx_parity_max_abs_diff"] < 1e-4


@pytest.mark.parametrize(
    ("flags", "message"),
    [(["--model", "vae"], "is for --model gan"), (["--model", "gan", "--data", "FACES",
                                                  "--size", "32", "--channels", "3"],
                                                  "needs labelled images")],
)  # fmt: skip
def test_conditional_training_refuses_what_it_cannot_do(flags, message, faces, capsys):
    from training.__main__ import main

    flags = [str(faces) if flag == "FACES" else flag for flag in flags]
    with pytest.raises(SystemExit) as stopped:
        main(["generative", *flags, "--conditional", "--dry-run"])
    assert stopped.value.code == 2 and message in capsys.readouterr().err
