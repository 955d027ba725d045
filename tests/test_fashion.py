"""Fashion-MNIST from the Debian package: the .deb is unpacked in Python and checked by sha256."""

import gzip
import io
import tarfile

import numpy as np
import pytest

from training.data import fashion
from training.data.mnist import IDX_FILES, to_idx


def ar_archive(members: dict[str, bytes]) -> bytes:
    """A Unix ar archive, laid out as dpkg writes a .deb."""
    out = b"!<arch>\n"
    for name, data in members.items():
        header = f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(data):<10}`\n".encode()
        out += header + data + (b"\n" if len(data) % 2 else b"")
    return out


def fake_deb(files: dict[str, bytes]) -> bytes:
    """A .deb whose data.tar.xz holds ``files`` gzipped where the real package keeps them."""
    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode="w:xz") as tar:
        for name, data in files.items():
            packed = gzip.compress(data)
            info = tarfile.TarInfo(fashion.MEMBER_DIR + name + ".gz")
            info.size = len(packed)
            tar.addfile(info, io.BytesIO(packed))
    return ar_archive(
        {"debian-binary": b"2.0\n", "control.tar.xz": b"", "data.tar.xz": tar_bytes.getvalue()}
    )


def tiny_idx(seed: int) -> dict[str, bytes]:
    rng = np.random.default_rng(seed)
    files = {}
    for split in ("train", "test"):
        images_name, labels_name = IDX_FILES[split]
        files[images_name] = to_idx(rng.integers(0, 256, (5, 28, 28), dtype=np.uint8))
        files[labels_name] = to_idx(rng.integers(0, 10, 5, dtype=np.uint8))
    return files


def test_the_deb_is_unpacked_to_its_idx_files():
    files = tiny_idx(0)
    assert fashion.idx_from_deb(fake_deb(files)) == files


def test_odd_sized_members_keep_the_archive_aligned():
    members = {"a": b"odd", "bb": b"even", "c": b"x"}
    assert fashion.ar_members(ar_archive(members)) == members
    with pytest.raises(ValueError, match="not an ar archive"):
        fashion.ar_members(b"PK\x03\x04 a zip")


def test_data_that_is_not_fashion_mnist_is_refused(tmp_path):
    for name, data in tiny_idx(1).items():
        (tmp_path / name).write_bytes(data)
    with pytest.raises(ValueError, match="Fashion-MNIST train: .* published checksum"):
        fashion.load_fashion("train", data_dir=tmp_path / "cache", idx_dir=tmp_path)
    assert not (tmp_path / "cache" / "fashion-mnist" / "train.npz").exists()  # nothing cached


def test_the_real_dataset_matches_its_published_checksums():
    try:
        images, labels = fashion.load_fashion("test")
    except RuntimeError as exc:  # apt-get cannot reach a package list on this machine
        pytest.skip(f"Fashion-MNIST not obtainable here: {exc}")
    assert images.shape == (10_000, 28, 28) and images.dtype == np.uint8
    assert np.bincount(labels).tolist() == [1000] * 10  # verified by sha256 inside load_fashion
