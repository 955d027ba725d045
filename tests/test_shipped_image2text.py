"""The shipped image2text model, re-measured on its held-out strips (not read from its card).

The strips are rebuilt from the card's config (MNIST test digits, the operator family never trained
on) and must hash to the card's fingerprint, so the score is for the very strips the card reports.
Over HTTP, the same strips are sent as users send them: inverted, enlarged, JPEG-compressed.
"""

import hashlib
import io
import json
import os
import re

import numpy as np
import onnxruntime as ort
import pytest
from PIL import Image

from training.data import arithmetic as ar
from training.evaluation.strip_reading import evaluation_sets, spell
from training.export import sha256
from training.tasks.image2text import Config

MODEL = "image2text"
# Strips per variant, each one request; GENSEQ_HTTP_STRIPS=0 sends all the card's held-out strips.
HTTP_STRIPS = int(os.environ.get("GENSEQ_HTTP_STRIPS", 1500))


@pytest.fixture(scope="module")
def card(settings):
    return json.loads((settings.models_dir / MODEL / "card.json").read_text())


@pytest.fixture(scope="module")
def held_out(card):
    """The card's held-out strips, all paddings together: uint8 pixels and what they show."""
    config = Config(**card["training"]["config"])
    split = card["dataset"]["split"]
    _, unseen_q = ar.split(ar.all_queries(), split["train_fraction"], split["seed"])
    assert ar.fingerprint(unseen_q) == split["held_out_sha256"], "query split not reproducible"
    sets, _ = evaluation_sets(config, unseen_q)
    pixels = np.concatenate([s.pixels.numpy() for s in sets.values()])
    digest = hashlib.sha256(pixels.tobytes()).hexdigest()
    assert digest == card["dataset"]["strips"]["held_out_sha256"], "strips not reproducible"
    return pixels, [t for s in sets.values() for t in s.texts]


@pytest.fixture(scope="module")
def onnx_read(settings, held_out):
    """What the model answers and reads for every held-out strip, run with onnxruntime."""
    session = ort.InferenceSession(str(settings.models_dir / MODEL / "model.onnx"))
    pixels, _ = held_out
    answers, symbols = [], []
    for start in range(0, len(pixels), 500):
        batch = pixels[start : start + 500, None].astype(np.float32) / 255
        answer, read = session.run(["answer", "symbols"], {"strip": batch})
        answers += [a.strip() for a in spell(answer.argmax(-1))]
        symbols += [s.strip() for s in spell(read.argmax(-1))]
    return answers, symbols


def test_card_matches_its_onnx_file(card, settings):
    assert card["sha256"] == sha256(settings.models_dir / MODEL / "model.onnx")
    assert re.fullmatch("[0-9a-f]{40}", card["code_version"]["commit"] or ""), "built from a commit"


def test_held_out_strips_are_many_and_unseen(card, held_out):
    assert len(held_out[1]) >= 5000
    assert card["dataset"]["digits"]["held_out"].startswith("MNIST test")
    assert "never trained on" in card["dataset"]["operators"]["held_out"]


def test_answers_and_reads_held_out_strips(held_out, onnx_read):
    texts = [t.strip() for t in held_out[1]]
    answers, symbols = onnx_read
    answer_right = np.mean([a == ar.answer(t) for a, t in zip(answers, texts, strict=True)])
    read_right = np.mean(np.array(symbols) == np.array(texts))
    assert answer_right >= 0.97, f"answer exact match {answer_right:.4f}"
    assert read_right >= 0.97, f"expression exact match {read_right:.4f}"


def png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


def jpeg(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


VARIANTS = {  # how a user's upload differs from the model's input, and its media type
    "as is": (png, "image/png"),
    "inverted": (lambda p: png(255 - p), "image/png"),
    "3x scaled": (lambda p: png(np.kron(p, np.ones((3, 3), np.uint8))), "image/png"),
    "JPEG": (jpeg, "image/jpeg"),
}


@pytest.mark.parametrize("variant", VARIANTS)
def test_http_matches_onnx_within_one_point(client, held_out, onnx_read, variant):
    encode, media_type = VARIANTS[variant]
    n = HTTP_STRIPS or len(held_out[1])
    pick = np.random.default_rng(0).choice(len(held_out[1]), n, replace=False)
    right, direct = 0, 0
    for i in pick:
        sent = client.post(
            "/solve/image", content=encode(held_out[0][i]), headers={"content-type": media_type}
        )
        assert sent.status_code == 200, sent.text
        truth = held_out[1][i].strip()
        right += sent.json()["answer"] == ar.answer(truth) and sent.json()["expression"] == truth
        direct += onnx_read[0][i] == ar.answer(truth) and onnx_read[1][i] == truth
    print(f"{variant}: {right} of {n} right over HTTP, {direct} in onnxruntime")
    assert right / n >= direct / n - 0.01, f"{variant}: {right} vs {direct}"
