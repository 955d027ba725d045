"""``python -m training <command>``: build the shipped models and regenerate the study's reports.

python -m training text2text              # train, export exported/text2text/ (ONNX + card)
python -m training split-sweep            # reports/split_sweep.{md,png,json}
python -m training image2text             # train, export exported/image2text/ (ONNX + card)
python -m training image2text-report      # reports/image2text.{md,png,json}
python -m training strip 81+24 --out s.png  # a handwritten strip to send to POST /solve/image
python -m training judge                  # the glyph judge that grades handwriting: reports/judge/
python -m training text2image             # train, export exported/text2image/ (needs the judge)
python -m training text2image-report      # reports/text2image.{md,png,json}: baseline, GAN, cVAE
python -m training generative --model vae # train a VAE or DCGAN: samples, curves, checkpoints
python -m training generative-study       # reports/generative_study.*: VAE and GAN latent sweeps
python -m training domain-fid exported/gan  # Fashion-MNIST domain FID, written into the card
python -m training inception-fid exported/gan  # Inception FID (the [fid] extra), into the card
python -m training <command> --dry-run    # a few batches, written to a temporary folder
python -m training <command> --help       # the command's own flags

Every training command takes --device, --precision, --workers and --compile, and runs under
torchrun: `torchrun --nproc-per-node 2 -m training text2text` trains on two processes.
"""

import argparse
import importlib
import shlex
import sys

# Each command is defined by its own module (``add_arguments`` and ``run``), imported only when
# it is the one asked for: this list needs no torch, so --help is instant.
COMMANDS = {
    "text2text": ("training.tasks.text2text", "train the text-to-text model and export it"),
    "split-sweep": ("training.experiments.split_sweep", "the study's train/test split sweep"),
    "image2text": ("training.tasks.image2text", "train the strip reader and export it"),
    "image2text-report": (
        "training.experiments.image2text_study",
        "baselines vs ours vs classify-then-compute on strips",
    ),
    "strip": ("training.data.strips", "draw a query as a handwritten strip (PNG)"),
    "judge": ("training.tasks.judge", "train the glyph judge (evaluation only)"),
    "text2image": ("training.tasks.text2image", "train the handwriting writer and export it"),
    "text2image-report": (
        "training.experiments.text2image_study",
        "the study's baseline vs ours (GAN, cVAE), graded by the judge",
    ),
    "generative": ("training.tasks.generative", "train a VAE or DCGAN on Fashion-MNIST or images"),
    "generative-study": (
        "training.experiments.generative_study",
        "the study's VAE and GAN latent sweeps",
    ),
    "domain-fid": (
        "training.evaluation.domain_fid",
        "domain FID of an exported Fashion-MNIST model",
    ),
    "inception-fid": (
        "training.evaluation.inception_fid",
        "Inception FID of an exported model (needs the [fid] extra)",
    ),
}


def overview() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m training",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")
    for name, (_, summary) in COMMANDS.items():
        commands.add_parser(name, help=summary)
    return parser


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] not in COMMANDS:
        overview().parse_args(argv)  # prints the overview or names the unknown command; exits
    name, rest = argv[0], argv[1:]
    module = importlib.import_module(COMMANDS[name][0])
    parser = argparse.ArgumentParser(
        prog=f"python -m training {name}",
        description=module.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    module.add_arguments(parser)
    args = parser.parse_args(rest)
    from training.usage import UsageError

    try:
        module.run(args, "python -m training " + shlex.join(argv))
    except UsageError as error:  # one line and exit 2, as for any other wrong flag
        print(f"python -m training {name}: error: {error}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
