"""``python -m training``: build the shipped models and regenerate the study's reports.

python -m training text2text              # train, export exported/text2text/ (ONNX + card)
python -m training split-sweep            # reports/split_sweep.{md,png,json}
python -m training image2text             # train, export exported/image2text/ (ONNX + card)
python -m training image2text-report      # reports/image2text.{md,png,json}
python -m training strip 81+24 --out s.png  # a handwritten strip to send to POST /solve/image
python -m training judge                  # the glyph judge that grades handwriting: reports/judge/
python -m training text2image             # train, export exported/text2image/ (needs the judge)
python -m training text2image-report      # reports/text2image.{md,png,json}: baseline, GAN, cVAE
python -m training generative --model vae # train a VAE or DCGAN: samples, curves, checkpoints
python -m training generative-study     # reports/generative_study.*: VAE and GAN latent sweeps
python -m training domain-fid exported/gan  # Fashion-MNIST domain FID, written into the card
python -m training inception-fid exported/gan  # Inception FID (the [fid] extra), into the card
python -m training <command> --dry-run    # a few batches, written to a temporary folder
"""

import argparse
import shlex
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from training.export import REPO
from training.generative import Config as GenConfig
from training.image2text import QUERY
from training.image2text import Config as ImageConfig
from training.judge import Config as JudgeConfig
from training.text2image import DEFAULTS
from training.text2text import Config

DRY_RUN_STRIPS = {"eval_strips": 40, "unseen_strips": 20}  # held-out strips of a --dry-run


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m training",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)

    t2t = commands.add_parser("text2text", help="train the text-to-text model and export it")
    t2t.add_argument("--arch", choices=["attention", "baseline"], default="attention")
    t2t.add_argument("--train-fraction", type=float, default=0.5)
    t2t.add_argument("--epochs", type=int, default=Config.epochs)
    t2t.add_argument("--seed", type=int, default=0)
    t2t.add_argument(
        "--out", type=Path, help="default: exported/text2text (a temp folder with --dry-run)"
    )
    t2t.add_argument("--dry-run", action="store_true", help="2 epochs of 2 batches")

    sweep = commands.add_parser("split-sweep", help="the study's train/test split sweep")
    sweep.add_argument("--ratios", type=float, nargs="+", default=None)
    sweep.add_argument("--steps", type=int, default=10000, help="optimiser steps per run")
    sweep.add_argument("--jobs", type=int, default=2, help="runs side by side, one thread each")
    sweep.add_argument("--out", type=Path, help="default: reports/ (a temp folder with --dry-run)")
    sweep.add_argument("--dry-run", action="store_true", help="two ratios, 4 steps each")

    i2t = commands.add_parser("image2text", help="train the strip reader (ours) and export it")
    i2t.add_argument("--epochs", type=int, default=ImageConfig.epochs)
    i2t.add_argument("--train-fraction", type=float, default=ImageConfig.train_fraction)
    i2t.add_argument("--seed", type=int, default=0)
    i2t.add_argument(
        "--out", type=Path, help="default: exported/image2text (a temp folder with --dry-run)"
    )
    i2t.add_argument(
        "--dry-run", action="store_true", help="2 epochs of 2 batches, 40 held-out strips"
    )

    report = commands.add_parser(
        "image2text-report", help="baselines vs ours vs classify-then-compute on strips"
    )
    report.add_argument("--epochs", type=int, default=12, help="epochs of every run")
    report.add_argument("--jobs", type=int, default=2, help="runs side by side, one thread each")
    report.add_argument("--out", type=Path, help="default: reports/ (a temp folder with --dry-run)")
    report.add_argument("--dry-run", action="store_true", help="2 epochs of 2 batches per run")

    strip = commands.add_parser("strip", help="draw a query as a handwritten strip (PNG)")
    strip.add_argument("query", help="e.g. 81+24 (at most 5 symbols)")
    strip.add_argument("--out", type=Path, required=True, help="the PNG to write")
    strip.add_argument(
        "--source",
        choices=["test", "train"],
        default="test",
        help="MNIST test digits and held-out operators, or the training ones",
    )
    strip.add_argument("--padding", choices=["right", "left"], default="right")
    strip.add_argument("--seed", type=int, default=0, help="picks the digit images and strokes")
    strip.add_argument("--dark-on-light", action="store_true", help="as if written on paper")

    judge = commands.add_parser("judge", help="train the glyph judge (evaluation only)")
    judge.add_argument("--epochs", type=int, default=JudgeConfig.epochs)
    judge.add_argument(
        "--out", type=Path, help="default: reports/judge (a temp folder with --dry-run)"
    )
    judge.add_argument("--dry-run", action="store_true", help="1 epoch of 2 batches")

    t2i = commands.add_parser("text2image", help="train the handwriting writer and export it")
    t2i.add_argument("--objective", choices=["gan", "cvae"], default="gan")
    t2i.add_argument("--epochs", type=int, help="default: the objective's own (see DEFAULTS)")
    t2i.add_argument(
        "--out", type=Path, help="default: exported/text2image (a temp folder with --dry-run)"
    )
    t2i.add_argument("--dry-run", action="store_true", help="1 epoch of 2 batches for each part")

    t2i_report = commands.add_parser(
        "text2image-report", help="the study's baseline vs ours (GAN, cVAE), graded by the judge"
    )
    t2i_report.add_argument("--jobs", type=int, default=2, help="parts trained side by side")
    t2i_report.add_argument(
        "--out", type=Path, help="default: reports/ (a temp folder with --dry-run)"
    )
    t2i_report.add_argument("--dry-run", action="store_true", help="1 epoch of 2 batches per part")

    gen = commands.add_parser("generative", help="train a VAE or DCGAN on Fashion-MNIST or images")
    gen.add_argument("--model", choices=["vae", "gan"], default="vae")
    gen.add_argument("--data", default=GenConfig.data, help="fashion-mnist, or a folder/zip/.npy")
    for name in ("size", "channels", "limit", "latent", "filters", "epochs", "batch_size",
                 "prior_epochs"):  # fmt: skip
        gen.add_argument(f"--{name.replace('_', '-')}", type=int, default=getattr(GenConfig, name))
    for name in ("lr", "beta", "ema"):
        gen.add_argument(f"--{name}", type=float, default=getattr(GenConfig, name))
    gen.add_argument("--out", type=Path, help="the run's folder; default: runs/<model>")
    gen.add_argument("--resume", action="store_true", help="continue the run in --out")
    gen.add_argument("--export", type=Path, help="also write the generator to this folder")
    gen.add_argument("--dry-run", action="store_true", help="2 epochs of 2 batches")

    gstudy = commands.add_parser("generative-study", help="the study's VAE and GAN latent sweeps")
    gstudy.add_argument("--vae-epochs", type=int, default=6)
    gstudy.add_argument("--gan-epochs", type=int, default=3)
    gstudy.add_argument("--data", default=GenConfig.data, help="as for generative")
    gstudy.add_argument("--size", type=int, default=GenConfig.size)
    gstudy.add_argument("--channels", type=int, default=GenConfig.channels)
    gstudy.add_argument("--jobs", type=int, default=2, help="runs side by side, one thread each")
    gstudy.add_argument("--out", type=Path, help="default: reports/ (a temp folder with --dry-run)")
    gstudy.add_argument("--dry-run", action="store_true", help="2 epochs of 2 batches a run")

    fid = commands.add_parser("domain-fid", help="domain FID of an exported Fashion-MNIST model")
    fid.add_argument("folder", type=Path, help="an exported gan or vae folder")
    fid.add_argument("--n", type=int, default=5000, help="generated images")
    fid.set_defaults(out=None, dry_run=False)
    inception = commands.add_parser(
        "inception-fid", help="Inception FID of an exported model (needs the [fid] extra)"
    )
    inception.add_argument("folder", type=Path, help="an exported gan or vae folder")
    inception.add_argument("--n", type=int, default=5000, help="generated images")
    inception.add_argument("--real", type=Path, help="real images; default Fashion-MNIST test")
    inception.set_defaults(out=None, dry_run=False)

    args = parser.parse_args(argv)
    command = "python -m training " + shlex.join(sys.argv[1:] if argv is None else argv)
    if args.out is None and args.dry_run:
        args.out = Path(tempfile.mkdtemp(prefix="genseq-dry-run-")) / args.command

    if args.command == "strip":
        write_strip(args)
    elif args.command in ("domain-fid", "inception-fid"):
        write_fid(args, command)
    elif args.command == "generative-study":
        from training.generative_study import base_configs, study, write_report

        data = {"data": args.data, "size": args.size, "channels": args.channels}
        epochs = (2, 2) if args.dry_run else (args.vae_epochs, args.gan_epochs)
        bases = base_configs(*epochs, **data)
        if args.dry_run:
            bases = {m: replace(c, filters=8) for m, c in bases.items()}
        out = args.out or REPO / "reports"
        runs_dir = out / "runs" if args.dry_run else REPO / "runs" / "study"
        results = study(bases, out, runs_dir, args.jobs, max_batches=2 if args.dry_run else None)
        write_report(results, out, command)
        print(f"wrote {out}/generative_study.{{md,png,json}} and {out}/generative_study/")
    elif args.command == "generative":
        from training.generative import fit as fit_generative

        fields = {f: getattr(args, f) for f in GenConfig.__dataclass_fields__ if hasattr(args, f)}
        if args.dry_run:
            fields |= {"epochs": 2, "prior_epochs": min(args.prior_epochs, 1)}
        config = GenConfig(**fields)
        run_dir = args.out or REPO / "runs" / config.model
        models, history = fit_generative(
            config, run_dir, resume=args.resume, max_batches=2 if args.dry_run else None
        )
        print(f"wrote {run_dir}: samples/, losses.json, losses.png, checkpoint.pt; {history[-1]}")
        if args.export:
            from training.build_generative import export_generator

            # Training time is the sum of the epochs' times, so a resumed run counts every leg.
            seconds = sum(h.get("seconds", 0.0) + h.get("prior_seconds", 0.0) for h in history)
            export_generator(models, config, history, seconds, args.export, command)
            print(f"exported {args.export}")
    elif args.command == "text2image":
        from training.build_text2image import build as build_text2image

        config = DEFAULTS[args.objective]
        if args.dry_run or args.epochs:
            config = replace(config, epochs=1 if args.dry_run else args.epochs)
        out = args.out or REPO / "exported" / "text2image"
        card = build_text2image(config, out, command, max_batches=2 if args.dry_run else None)
        judged = card["metrics"]
        print(
            f"exported {out}: judged characters {judged['character_accuracy']:.4f}, "
            f"answers {judged['answer_exact_match']:.4f}, blanks {judged['unused_cells_blank']:.4f}"
        )
    elif args.command == "text2image-report":
        from training import render_report

        out = args.out or REPO / "reports"
        dry = {"epochs": 1} if args.dry_run else {}
        results = render_report.run(args.jobs, max_batches=2 if args.dry_run else None, **dry)
        render_report.write_report(results, out, command)
        print(render_report.table(results, command))
        print(f"wrote {out}/text2image.md, .png, .json")
    elif args.command == "judge":
        from training.judge import build as build_judge

        config = JudgeConfig(epochs=1 if args.dry_run else args.epochs)
        out = args.out or REPO / "reports" / "judge"
        card = build_judge(config, out, command, max_batches=2 if args.dry_run else None)
        print(f"wrote {out}: MNIST test accuracy {card['metrics']['mnist_test_accuracy']:.4f}")
    elif args.command == "text2text":
        from training.build_text2text import build

        config = Config(
            arch=args.arch, train_fraction=args.train_fraction, epochs=args.epochs, seed=args.seed
        )
        if args.dry_run:
            config = replace(config, epochs=2, curve_queries=100)
        out = args.out or REPO / "exported" / "text2text"
        card = build(config, out, command, max_batches=2 if args.dry_run else None)
        print(f"exported {out}: held-out exact match {card['metrics']['exact_match']:.4f}")
    elif args.command == "image2text":
        from training.build_image2text import build as build_image2text

        config = ImageConfig(epochs=args.epochs, train_fraction=args.train_fraction, seed=args.seed)
        if args.dry_run:
            config = replace(config, epochs=2, **DRY_RUN_STRIPS)
        out = args.out or REPO / "exported" / "image2text"
        card = build_image2text(config, out, command, max_batches=2 if args.dry_run else None)
        metrics = card["metrics"]
        print(
            f"exported {out}: held-out answer exact match {metrics['answer_exact_match']:.4f}, "
            f"expression {metrics['expression_exact_match']:.4f}"
        )
    elif args.command == "image2text-report":
        from training import image_report

        epochs, out = args.epochs, args.out or REPO / "reports"
        strips = {}
        if args.dry_run:
            epochs, strips = 2, DRY_RUN_STRIPS
        results = image_report.run(
            epochs, args.jobs, max_batches=2 if args.dry_run else None, **strips
        )
        image_report.write_report(results, out, command)
        print(image_report.table(results, command))
        print(f"wrote {out}/image2text.md, .png, .json")
    else:
        from training import split_sweep

        ratios = tuple(args.ratios or split_sweep.RATIOS)
        steps, out = args.steps, args.out or REPO / "reports"
        if args.dry_run:
            ratios, steps = ratios[:2], 4
        curve = 100 if args.dry_run else 2000
        base = {  # the study's model as it trained it (no weight decay), and ours with its defaults
            "baseline": Config(arch="baseline", weight_decay=0.0, curve_queries=curve),
            "attention": Config(arch="attention", curve_queries=curve),
        }
        results = split_sweep.sweep(base, ratios, steps, args.jobs)
        split_sweep.write_report(results, out, steps)
        print(split_sweep.table(results, steps))
        print(f"wrote {out}/split_sweep.md, .png, .json")


def write_fid(args: argparse.Namespace, command: str) -> None:
    """Measure an exported generator's FID, print it and record value and command in its card."""
    import json

    card_path = args.folder / "card.json"
    card = json.loads(card_path.read_text())
    if args.command == "domain-fid":
        from training.domain_fid import measure

        scores = {**measure(args.folder, args.n), "domain_fid_command": command}
    else:
        from training.inception_fid import measure

        scores = {**measure(args.folder, card, args.n, args.real), "inception_fid_command": command}
    card["metrics"].update(scores)
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    print(f"{args.folder}: {scores}")


def write_strip(args: argparse.Namespace) -> None:
    import numpy as np
    from PIL import Image

    from training.strips import make_strips

    if not QUERY.fullmatch(args.query):
        raise SystemExit(f"strip: {args.query!r} is not A+B or A-B with 0 <= A, B <= 99")
    rng = np.random.default_rng(args.seed)
    pixels, texts = make_strips([args.query], args.source, rng, (args.padding,))
    Image.fromarray(255 - pixels[0] if args.dark_on_light else pixels[0]).save(args.out)
    print(f"wrote {args.out}: {texts[0]!r} in handwriting ({args.source} digits and operators)")


if __name__ == "__main__":
    main()
