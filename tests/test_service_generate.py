"""`GET /sample` and `GET /interpolate` on generators exported by a tiny training run.

The shipped generative models come with issue 5's training; these tests build their own (two
batches of a VAE and a DCGAN on random 32x32 RGB images) and serve them next to nothing else.
"""

import io
from collections.abc import Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from service.main import create_app
from service.settings import Settings
from training.__main__ import main


@pytest.fixture(scope="module")
def generators(tmp_path_factory) -> Iterator[TestClient]:
    root = tmp_path_factory.mktemp("generative")
    data = root / "faces.npy"
    np.save(data, np.random.default_rng(0).integers(0, 256, (64, 32, 32, 3), dtype=np.uint8))
    common = ["--data", str(data), "--size", "32", "--channels", "3", "--filters", "8", "--dry-run"]
    for model, name, latent in [("gan", "gan", "16"), ("vae", "faces-vae", "8")]:
        places = ["--out", str(root / "runs" / name), "--export", str(root / "models" / name)]
        main(["generative", "--model", model, *common, "--latent", latent, *places])
    with TestClient(create_app(Settings(models_dir=root / "models"))) as client:
        yield client


def picture(response) -> np.ndarray:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    return np.asarray(Image.open(io.BytesIO(response.content)))


@pytest.mark.parametrize(("n", "shape"), [(16, (128, 128, 3)), (5, (64, 96, 3)), (1, (32, 32, 3))])
def test_sample_grid_has_ceil_sqrt_n_columns(generators, n, shape):
    assert picture(generators.get("/sample", params={"n": n})).shape == shape


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
    assert strip.shape == (32, 6 * 32, 3)
    ends = {s: picture(generators.get("/sample", params={"n": 1, "seed": s, "model": "faces-vae"}))
            for s in (1, 2)}  # fmt: skip
    assert np.abs(strip[:, :32] - ends[1]).max() <= 1  # the path starts at seed_a's image
    assert np.abs(strip[:, -32:] - ends[2]).max() <= 1  # and ends at seed_b's


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
