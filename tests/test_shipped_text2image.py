"""The shipped text2image model, graded by the judge on random (query, seed) pairs through HTTP.

Images come from `GET /render` exactly as users get them (PNG bytes), so the service's style
latent, padding and PNG encoding are all part of what is measured.
"""

import io
import json
import re

import numpy as np
import pytest
from PIL import Image

from training.data import arithmetic as ar
from training.data.mnist import load_mnist
from training.evaluation.glyph_judge import (
    GlyphJudge,
    grade_renders,
    nearest_train_distance,
    spread,
)
from training.export import sha256

MODEL = "text2image"
PAIRS = 600  # every pair is a request; the card holds the 4,000-pair figures


@pytest.fixture(scope="module")
def card(settings) -> dict:
    return json.loads((settings.models_dir / MODEL / "card.json").read_text())


def test_card_matches_its_onnx_file(card, settings):
    assert card["sha256"] == sha256(settings.models_dir / MODEL / "model.onnx")
    assert re.fullmatch("[0-9a-f]{40}", card["code_version"]["commit"] or ""), "built from a commit"
    assert card["metrics"]["graded_pairs"] >= 4000


def test_judge_reads_what_was_asked_for(client):
    rng = np.random.default_rng(7)
    queries = ar.random_queries(rng, PAIRS)
    images = []
    for query, seed in zip(queries, rng.integers(2**32, size=PAIRS), strict=True):
        response = client.get("/render", params={"query": query, "seed": int(seed)})
        assert response.status_code == 200
        images.append(np.asarray(Image.open(io.BytesIO(response.content)), np.float32) / 255)
    scores = grade_renders(np.stack(images), queries, GlyphJudge())
    assert scores["character_accuracy"] >= 0.97, scores
    assert scores["answer_exact_match"] >= 0.95, scores
    assert scores["unused_cells_blank"] >= 0.99, scores


def render_cells(client, query: str, seeds) -> np.ndarray:
    """``[len(seeds), 3, 28, 28]`` cells of `GET /render` PNGs, in 0..1."""
    images = [
        np.asarray(
            Image.open(
                io.BytesIO(client.get("/render", params={"query": query, "seed": s}).content)
            )
        )
        for s in seeds
    ]
    return np.stack(images).reshape(len(seeds), 28, 3, 28).transpose(0, 2, 1, 3) / 255


@pytest.mark.parametrize("query", ["81+24", "45+5", "60+38"])
def test_sixteen_seeds_write_visibly_different_digits(client, query):
    cells = render_cells(client, query, range(16))
    images, labels = load_mnist("test")
    rng = np.random.default_rng(0)
    for place, digit in enumerate(ar.answer(query)):
        real = images[rng.choice(np.flatnonzero(labels == int(digit)), 200, replace=False)] / 255
        ratio = spread(cells[:, place]) / spread(real)
        assert ratio >= 0.5, f"{query} cell {place} ({digit}): {ratio:.2f} of MNIST's spread"


def test_no_drawn_digit_is_a_copy_of_a_training_image(client, card):
    queries = ["81+24", "7-19", "99+99", "12-70", "60+38", "45+5"]
    digits = []
    for query in queries:
        cells = render_cells(client, query, range(20))
        places = [i for i, c in enumerate(ar.answer(query)) if c.isdigit()]
        digits.append(cells[:, places].reshape(-1, 28, 28))
    nearest = nearest_train_distance(np.concatenate(digits))
    threshold = card["metrics"]["copy_threshold"]  # the closest any real MNIST test digit gets
    assert nearest.min() > threshold, f"{nearest.min():.2f} <= {threshold:.2f}"
