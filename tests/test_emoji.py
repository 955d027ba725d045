"""The emoji image set: read from tarballs of the npm packages' layout, checked, split, cached.

Most tests build a small tarball of the same layout (``package/emoji.json``,
``package/img/<vendor>/64/*.png``); the last reads the real packages when npm can reach them.
"""

import hashlib
import io
import json
import shutil
import subprocess
import tarfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from training.data import emoji, image_sets

RED = (200, 30, 30, 255)


def png(colour: tuple[int, int, int, int]) -> bytes:
    """A 64x64 RGBA image: its left half ``colour``, its right half transparent."""
    pixels = np.zeros((64, 64, 4), np.uint8)
    pixels[:, :32] = colour
    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGBA").save(buffer, "PNG")
    return buffer.getvalue()


def emoji_entry(name: str, category: str, order: int, vendor: str, skins: int = 0) -> dict:
    entry = {"image": f"{name}.png", "category": category, "sort_order": order,
             f"has_img_{vendor}": True}  # fmt: skip
    if skins:
        entry["skin_variations"] = {
            f"1F3F{k}": {"image": f"{name}-{k}.png", f"has_img_{vendor}": True}
            for k in range(skins)
        }
    return entry


def make_tarball(path: Path, vendor: str) -> Path:
    """A package of four emoji: a smiley, a person with two skin tones, a cat, one without an
    image of this vendor."""
    index = [
        emoji_entry("cat", "Animals & Nature", 3, vendor),
        emoji_entry("smile", "Smileys & Emotion", 1, vendor),
        emoji_entry("person", "People & Body", 2, vendor, skins=2),
        {**emoji_entry("flag", "Flags", 4, vendor), f"has_img_{vendor}": False},
    ]
    files = {"package/emoji.json": json.dumps(index).encode()}
    for entry in index[:3]:
        for variant in [entry, *entry.get("skin_variations", {}).values()]:
            files[f"package/img/{vendor}/64/{variant['image']}"] = png(RED)
    files[f"package/img/{vendor}/sheets/big.png"] = b"not read"
    with tarfile.open(path, "w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def test_faces_are_smileys_and_people_with_every_skin_tone_in_package_order(tmp_path):
    tarball = make_tarball(tmp_path / "google.tgz", "google")
    with tarfile.open(tarball) as archive:
        index = json.load(archive.extractfile("package/emoji.json"))
    found = emoji.entries(index, "google", emoji.SUBSETS["faces"])
    assert [name for name, _ in found] == [
        "smile.png",
        "person.png",
        "person-0.png",
        "person-1.png",
    ]
    assert len(emoji.read_tarball(tarball, "google", emoji.SUBSETS["faces"])) == 4
    assert len(emoji.read_tarball(tarball, "google", emoji.SUBSETS["all"])) == 5


def test_transparent_pixels_take_the_background_colour(tmp_path):
    images = emoji.read_tarball(
        make_tarball(tmp_path / "t.tgz", "twitter"), "twitter", ("Smileys & Emotion",)
    )
    assert images.shape == (1, 64, 64, 3) and images.dtype == np.uint8
    assert (images[0, :, :32] == RED[:3]).all()
    assert (images[0, :, 32:] == emoji.BACKGROUND).all()


def test_an_image_of_another_size_is_refused():
    buffer = io.BytesIO()
    Image.new("RGBA", (72, 72)).save(buffer, "PNG")
    with pytest.raises(ValueError, match="64x64"):
        emoji.composite(buffer.getvalue())


@pytest.fixture
def packages(tmp_path, monkeypatch):
    """Synthetic tarballs in place of both vendors' packages, already fetched into tmp_path."""
    folder = tmp_path / "emoji"
    folder.mkdir()
    pinned = {}
    for vendor, package in emoji.PACKAGES.items():
        tarball = make_tarball(folder / package.tarball, vendor)
        pinned[vendor] = replace(package, sha256=hashlib.sha256(tarball.read_bytes()).hexdigest())
    monkeypatch.setattr(emoji, "PACKAGES", pinned)
    return tmp_path


def test_both_vendors_are_read_and_cached(packages):
    images = emoji.load_emoji("faces", packages)
    assert images.shape == (8, 64, 64, 3)
    cached = list((packages / "emoji").glob("faces-*.npy"))
    assert len(cached) == 1 and (np.load(cached[0]) == images).all()


def test_a_tarball_that_is_not_the_pinned_one_is_refused(packages, monkeypatch):
    package = emoji.PACKAGES["google"]
    monkeypatch.setitem(emoji.PACKAGES, "google", replace(package, sha256="0" * 64))
    with pytest.raises(ValueError, match="sha256"):
        emoji.load_emoji("faces", packages)


def test_the_split_is_fixed_disjoint_and_a_tenth(packages):
    images = np.zeros((487, 1, 1, 3), np.uint8)
    train, held_out = emoji.split(images)
    again = emoji.split(images)
    assert (train == again[0]).all() and (held_out == again[1]).all()
    assert len(held_out) == 49 and not set(train) & set(held_out)
    assert len(train) + len(held_out) == 487


def test_image_sets_train_on_the_train_split_only(packages, monkeypatch):
    monkeypatch.setenv("GENSEQ_DATA_DIR", str(packages))
    every = image_sets.every_image("emoji-faces")
    train = image_sets.train_pixels("emoji-faces", 64, 3, None)
    held_out = image_sets.held_out_pixels("emoji-faces")
    assert len(train) + len(held_out) == len(every) == 8
    with pytest.raises(ValueError, match="--size 64 --channels 3"):
        image_sets.train_pixels("emoji-faces", 28, 1, None)
    card = image_sets.card("emoji-faces", None)
    assert card["packages"]["twitter"]["licence"] == "CC-BY-4.0"
    assert card["packages"]["google"]["licence"] == "Apache-2.0"


def test_an_unknown_subset_names_the_known_ones():
    with pytest.raises(ValueError, match="faces"):
        emoji.load_emoji("celebrities")


def npm_reaches(package: emoji.Package) -> str | None:
    """Why the real package cannot be fetched here, or None if it can."""
    if shutil.which("npm") is None:
        return "npm is not installed"
    try:
        done = subprocess.run(["npm", "view", f"{package.name}@{package.version}", "version"],
                              capture_output=True, text=True, timeout=60)  # fmt: skip
    except subprocess.TimeoutExpired:
        return "npm view timed out"
    return None if done.returncode == 0 else f"npm cannot reach the registry: {done.stderr[-200:]}"


def test_the_real_faces_are_thousands_of_colour_images():
    reason = npm_reaches(emoji.PACKAGES["google"])
    if reason:
        pytest.skip(reason)
    images = emoji.load_emoji("faces")
    assert images.shape[1:] == (64, 64, 3) and len(images) > 4000
    assert images.std(axis=(1, 2, 3)).min() > 0  # no blank image
