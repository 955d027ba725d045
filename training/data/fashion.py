"""Fashion-MNIST without the internet: Debian packages it (``dataset-fashion-mnist``, MIT licence).

The four IDX files are read from, in order: a folder the caller names; the ``.npz`` cache under
``<data>/fashion-mnist/``; the installed package (``/usr/share/datasets/fashion-mnist``); or the
package's ``.deb``, fetched with ``apt-get download`` (no install, no root needed) and unpacked in
Python. Whatever the source, the arrays must hash to the published sha256 of the original files.
"""

import gzip
import io
import lzma
import tarfile
from pathlib import Path

import numpy as np

from training.data.mnist import (
    IDX_FILES,
    data_root,
    download_alone,
    read_idx,
    read_idx_dir,
    verify,
    write_whole,
)

PACKAGE = "dataset-fashion-mnist"
INSTALLED = Path("/usr/share/datasets/fashion-mnist")
MEMBER_DIR = "./usr/share/datasets/fashion-mnist/"
IDX_SHA256 = {  # the uncompressed originals, as published with the dataset
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}
CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip


def ar_members(archive: bytes) -> dict[str, bytes]:
    """The members of a Unix ``ar`` archive (a ``.deb`` is one) by name."""
    if not archive.startswith(b"!<arch>\n"):
        raise ValueError("not an ar archive")
    members, at = {}, 8
    while at + 60 <= len(archive):
        header = archive[at : at + 60]
        name, size = header[:16].decode().strip().rstrip("/"), int(header[48:58])
        members[name] = archive[at + 60 : at + 60 + size]
        at += 60 + size + size % 2  # members start at even offsets
    return members


def idx_from_deb(deb: bytes) -> dict[str, bytes]:
    """The (uncompressed) IDX files inside the package, by file name."""
    data = ar_members(deb)["data.tar.xz"]
    files = {}
    with tarfile.open(fileobj=io.BytesIO(lzma.decompress(data))) as tar:
        for member in tar.getmembers():
            name = member.name.removeprefix(MEMBER_DIR).removesuffix(".gz")
            if member.name.startswith(MEMBER_DIR) and name in IDX_SHA256:
                raw = tar.extractfile(member).read()
                files[name] = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    return files


def fetch_deb(folder: Path) -> bytes:
    """The package's ``.deb`` in ``folder``, downloaded with ``apt-get download`` if missing."""
    command = ["apt-get", "download", PACKAGE]
    what = f"apt-get download {PACKAGE} (run `apt-get update` first?)"
    return download_alone(command, folder, f"{PACKAGE}_*.deb", what).read_bytes()


def load_fashion(
    split: str, data_dir: Path | None = None, idx_dir: Path | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST ``split`` ("train" or "test"): uint8 images ``[n, 28, 28]``, int64 labels."""
    if split not in IDX_FILES:
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    folder = Path(data_dir or data_root()) / "fashion-mnist"
    cache = folder / f"{split}.npz"
    if idx_dir is not None or (not cache.is_file() and INSTALLED.is_dir()):
        images, labels = read_idx_dir(Path(idx_dir or INSTALLED), split)
    elif cache.is_file():
        with np.load(cache, allow_pickle=False) as saved:
            images, labels = saved["images"], saved["labels"]
    else:
        files = idx_from_deb(fetch_deb(folder))
        images, labels = (read_idx(files[name]) for name in IDX_FILES[split])
    verify(split, images, labels, IDX_SHA256, "Fashion-MNIST")
    if not cache.is_file():
        write_whole(cache, lambda p: np.savez(p, images=images, labels=labels))
    return images, labels.astype(np.int64)
