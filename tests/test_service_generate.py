"""The CelebA path end to end, and the generative routes on what it exports.

A fake `img_align_celeba/` folder (178x218 JPEGs) is preprocessed to 64x64 RGB, a DCGAN and a
VAE train one short epoch on it through the command line, export, and are served by
`GET /sample`, `GET /interpolate` and `POST /interpolate` next to nothing else.
"""

import io
import json
import shutil
from collections.abc import Iterator

import numpy as np
import onnxruntime as ort
import pytest
from celeba import face, write_celeba
from fastapi.testclient import TestClient
from PIL import Image

from service.images import read_picture
from service.main import create_app
from service.settings import Settings
from training.__main__ import main

SIDE = 64


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Iterator:
    root = tmp_path_factory.mktemp("generative")
    celeba = write_celeba(root, 32)
    common = ["--data", str(celeba), "--size", str(SIDE), "--channels", "3", "--filters", "8",
              "--epochs", "1", "--batch-size", "16"]  # fmt: skip
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GENSEQ_DATA_DIR", str(root / "data"))  # the preprocessing cache
        for model, name, latent in [("gan", "gan", "16"), ("vae", "faces-vae", "8")]:
            places = ["--out", str(root / "runs" / name), "--export", str(root / "models" / name)]
            main(["generative", "--model", model, *common, "--latent", latent, *places])
    return root


@pytest.fixture(scope="module")
def generators(exported) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(models_dir=exported / "models"))) as client:
        yield client


def test_celeba_folder_was_preprocessed_trained_and_exported(exported):
    assert len(list((exported / "data" / "images").glob("img_align_celeba-*.npy"))) == 1
    for name in ("gan", "faces-vae"):
        card = json.loads((exported / "models" / name / "card.json").read_text())
        assert card["image"] == {"size": SIDE, "channels": 3, "range": "0..1"}
        epochs = json.loads((exported / "runs" / name / "losses.json").read_text())
        assert [e["epoch"] for e in epochs] == [1] and epochs[0]["seconds"] > 0
        assert card["training"]["seconds"] == round(epochs[0]["seconds"], 1)
        assert card["metrics"]["onnx_parity_max_abs_diff"] < 1e-4
    vae = json.loads((exported / "models" / "faces-vae" / "card.json").read_text())
    assert vae["encoder"]["onnx"] == "encoder.onnx"
    assert vae["metrics"]["encoder_onnx_parity_max_abs_diff"] < 1e-4


def picture(response) -> np.ndarray:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    return np.asarray(Image.open(io.BytesIO(response.content)))


@pytest.mark.parametrize(("n", "grid"), [(16, (4, 4)), (5, (2, 3)), (1, (1, 1))])
def test_sample_grid_has_ceil_sqrt_n_columns(generators, n, grid):
    assert picture(generators.get("/sample", params={"n": n})).shape == (
        grid[0] * SIDE, grid[1] * SIDE, 3)  # fmt: skip


def test_samples_are_images_and_seeds_differ(generators):
    grid = picture(generators.get("/sample", params={"n": 4, "model": "faces-vae"}))
    cells = [grid[r : r + SIDE, c : c + SIDE] for r in (0, SIDE) for c in (0, SIDE)]
    assert grid.dtype == np.uint8 and grid.std() > 0
    assert all(not np.array_equal(cells[0], other) for other in cells[1:])


def test_sample_is_deterministic_by_seed_and_model(generators):
    def png(**params) -> bytes:
        return generators.get("/sample", params={"n": 4, **params}).content

    assert png(seed=3) == png(seed=3)
    assert png(seed=3) != png(seed=4)
    assert png(seed=3) != png(seed=3, model="faces-vae")


def test_scale_enlarges_by_whole_pixels(generators):
    small = picture(generators.get("/sample", params={"n": 4}))
    big = picture(generators.get("/sample", params={"n": 4, "scale": 3}))
    assert np.array_equal(big[::3, ::3], small)


@pytest.mark.parametrize("method", ["linear", "slerp"])
def test_interpolation_strip_runs_from_one_seed_to_the_other(generators, method):
    params = {"steps": 6, "seed_a": 1, "seed_b": 2, "method": method, "model": "faces-vae"}
    strip = picture(generators.get("/interpolate", params=params)).astype(int)
    assert strip.shape == (SIDE, 6 * SIDE, 3)
    ends = {s: picture(generators.get("/sample", params={"n": 1, "seed": s, "model": "faces-vae"}))
            for s in (1, 2)}  # fmt: skip
    assert np.abs(strip[:, :SIDE] - ends[1]).max() <= 1  # the path starts at seed_a's image
    assert np.abs(strip[:, -SIDE:] - ends[2]).max() <= 1  # and ends at seed_b's


@pytest.mark.parametrize(
    ("path", "params", "words"),
    [
        ("/sample", {"n": 0}, "n"),
        ("/sample", {"n": 257}, "n"),
        ("/sample", {"scale": 9}, "scale"),
        ("/sample", {"seed": -1}, "seed"),
        ("/interpolate", {"steps": 1}, "steps"),
        ("/interpolate", {"steps": 65}, "steps"),
        ("/interpolate", {"method": "cubic"}, "method"),
        ("/interpolate", {"seed_b": 2**32}, "seed_b"),
    ],
)
def test_out_of_range_parameters_are_422(generators, path, params, words):
    response = generators.get(path, params=params)
    assert response.status_code == 422 and words in response.json()["detail"]


def test_unknown_model_lists_the_generative_ones(generators):
    response = generators.get("/sample", params={"model": "text2text"})
    assert response.status_code == 404
    assert "faces-vae" in response.json()["detail"] and "gan" in response.json()["detail"]


def jpeg(i: int) -> bytes:
    buffer = io.BytesIO()
    face(i).save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


def post_interpolate(client: TestClient, a: bytes, b: bytes, **params):
    files = {"a": ("a.jpg", a, "image/jpeg"), "b": ("b.jpg", b, "image/jpeg")}
    return client.post("/interpolate", files=files, params={"model": "faces-vae", **params})


def test_uploads_are_prepared_as_the_training_images_were(exported):
    (cache,) = (exported / "data" / "images").glob("img_align_celeba-*.npy")
    trained_on = np.load(cache)[:3].transpose(0, 3, 1, 2) / 255
    served = np.stack([read_picture(jpeg(i), SIDE, 3, 2048) for i in (1, 2, 3)])
    assert np.abs(served - trained_on).max() <= 1 / 255 + 1e-6


def test_image_strip_starts_and_ends_at_the_reconstructions(generators, exported):
    folder = exported / "models" / "faces-vae"
    encoder = ort.InferenceSession(str(folder / "encoder.onnx"))
    decoder = ort.InferenceSession(str(folder / "model.onnx"))
    pictures = np.stack([read_picture(jpeg(i), SIDE, 3, 2048) for i in (1, 5)])
    ends = decoder.run(None, {"z": encoder.run(["mean"], {"images": pictures})[0]})[0]
    strip = picture(post_interpolate(generators, jpeg(1), jpeg(5), steps=5, method="linear"))
    assert strip.shape == (SIDE, 5 * SIDE, 3)
    expected = np.round(ends.transpose(0, 2, 3, 1) * 255)
    assert np.abs(strip[:, :SIDE] - expected[0]).max() <= 1
    assert np.abs(strip[:, -SIDE:] - expected[1]).max() <= 1


def test_image_strip_reversed_and_repeated(generators):
    forward = picture(post_interpolate(generators, jpeg(1), jpeg(5), steps=4))
    backward = picture(post_interpolate(generators, jpeg(5), jpeg(1), steps=4))
    frames = [backward[:, i * SIDE : (i + 1) * SIDE] for i in range(4)]
    assert np.abs(forward.astype(int) - np.concatenate(frames[::-1], axis=1)).max() <= 1
    same = picture(post_interpolate(generators, jpeg(2), jpeg(2), steps=3))
    assert np.array_equal(same[:, :SIDE], same[:, -SIDE:])


@pytest.mark.parametrize(
    ("send", "status", "words"),
    [
        ({"files": {"a": ("a.jpg", jpeg(1), "image/jpeg")}}, 422, "'b'"),
        ({"files": {"a": ("a", b"GIF89a", "image/gif"), "b": ("b.jpg", jpeg(1))}}, 422, "'a'"),
        ({"files": {"a": ("a.jpg", b""), "b": ("b.jpg", jpeg(1))}}, 422, "empty"),
        ({"json": {"a": 1, "b": 2}}, 415, "multipart"),
        ({"content": jpeg(1), "headers": {"content-type": "image/jpeg"}}, 415, "'a' and 'b'"),
        ({"files": {"a": ("a.jpg", bytes(3 << 20)), "b": ("b.jpg", jpeg(1))}}, 413, "at most"),
    ],
)
def test_bad_uploads_are_4xx_with_a_reason(generators, send, status, words):
    response = generators.post("/interpolate", params={"model": "faces-vae"}, **send)
    assert response.status_code == status and words in response.json()["detail"]


def test_image_interpolation_needs_a_vae_with_an_encoder(generators, exported, tmp_path):
    response = post_interpolate(generators, jpeg(1), jpeg(2), model="gan")
    assert response.status_code == 404 and "faces-vae" in response.json()["detail"]
    assert post_interpolate(generators, jpeg(1), jpeg(2), steps=65).status_code == 422

    shutil.copytree(exported / "models" / "faces-vae", tmp_path / "models" / "old-vae")
    card_path = tmp_path / "models" / "old-vae" / "card.json"
    card = json.loads(card_path.read_text())
    del card["encoder"]
    card["name"] = "old-vae"
    card_path.write_text(json.dumps(card))
    with TestClient(create_app(Settings(models_dir=tmp_path / "models"))) as client:
        response = post_interpolate(client, jpeg(1), jpeg(2), model="old-vae")
        assert response.status_code == 422 and "without an encoder" in response.json()["detail"]
        assert client.get("/sample", params={"model": "old-vae"}).status_code == 200
