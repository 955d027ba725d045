"""User image sets in CelebA's layouts (folder, zip, .npy) and any folder of pictures."""

import zipfile

import numpy as np
import pytest
from celeba import write_celeba
from PIL import Image

from training.data.image_folders import load_images


@pytest.fixture
def celeba(tmp_path):
    folder = write_celeba(tmp_path, 6)
    with zipfile.ZipFile(tmp_path / "img_align_celeba.zip", "w") as archive:
        for path in sorted(folder.iterdir()):
            archive.write(path, f"img_align_celeba/{path.name}")
    return folder


def test_folder_is_cropped_to_the_central_square_and_resized(celeba, tmp_path):
    images = load_images(celeba, size=64, channels=3, limit=4, cache_dir=tmp_path / "cache")
    assert images.shape == (4, 64, 64, 3) and images.dtype == np.uint8
    assert images[:, :4].max() < 80  # the colour bands fell outside the crop
    assert images[:, 30:34, 30:34].min() > 180  # the centre survived


def test_zip_gives_the_same_images_as_the_folder(celeba, tmp_path):
    folder = load_images(celeba, limit=5, cache_dir=tmp_path / "a")
    zipped = load_images(tmp_path / "img_align_celeba.zip", limit=5, cache_dir=tmp_path / "b")
    assert np.array_equal(folder, zipped)


def test_results_are_cached_as_npy(celeba, tmp_path):
    first = load_images(celeba, size=32, channels=1, cache_dir=tmp_path / "cache")
    assert first.shape == (6, 32, 32, 1)
    (cached,) = (tmp_path / "cache").glob("*.npy")
    for path in celeba.iterdir():
        path.unlink()  # the cache alone now answers
    assert np.array_equal(
        load_images(celeba, size=32, channels=1, cache_dir=tmp_path / "cache"), first
    )
    assert cached.stat().st_size > 6 * 32 * 32


def test_ready_npy_is_taken_as_is_and_checked(tmp_path):
    array = np.random.default_rng(0).integers(0, 256, (5, 64, 64, 3), dtype=np.uint8)
    np.save(tmp_path / "faces.npy", array)
    assert np.array_equal(load_images(tmp_path / "faces.npy", limit=3), array[:3])
    np.save(tmp_path / "wrong.npy", array[..., 0])
    with pytest.raises(ValueError, match="expected uint8 \\(N, 64, 64, 3\\)"):
        load_images(tmp_path / "wrong.npy")


def test_any_folder_of_pictures_nested_and_mixed(tmp_path):
    (tmp_path / "pics" / "more").mkdir(parents=True)
    Image.new("RGB", (50, 30), (0, 255, 0)).save(tmp_path / "pics" / "a.png")
    Image.new("L", (30, 50), 128).save(tmp_path / "pics" / "more" / "b.jpg")
    (tmp_path / "pics" / "notes.txt").write_text("not an image, not a candidate")
    images = load_images(tmp_path / "pics", size=28, channels=3, cache_dir=tmp_path / "c")
    assert images.shape == (2, 28, 28, 3)
    assert images[0, 14, 14].tolist() == [0, 255, 0]


def test_broken_or_empty_sources_are_named(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no images"):
        load_images(tmp_path / "empty", cache_dir=tmp_path / "c")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(ValueError, match="x.jpg is not a readable image"):
        load_images(tmp_path / "bad", cache_dir=tmp_path / "c")
