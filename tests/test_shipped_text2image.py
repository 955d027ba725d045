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

from training import arithmetic as ar
from training.export import sha256
from training.text2image import Judge, grade_renders

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
    queries = [ar.all_queries()[i] for i in rng.integers(20_000, size=PAIRS)]
    images = []
    for query, seed in zip(queries, rng.integers(2**32, size=PAIRS), strict=True):
        response = client.get("/render", params={"query": query, "seed": int(seed)})
        assert response.status_code == 200
        images.append(np.asarray(Image.open(io.BytesIO(response.content)), np.float32) / 255)
    scores = grade_renders(np.stack(images), queries, Judge())
    assert scores["character_accuracy"] >= 0.97, scores
    assert scores["answer_exact_match"] >= 0.95, scores
    assert scores["unused_cells_blank"] >= 0.99, scores
