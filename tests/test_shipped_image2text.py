"""The shipped image2text model, re-measured on its held-out strips (not read from its card).

The strips are rebuilt from the card's config (MNIST test digits, the operator family never trained
on) and must hash to the card's fingerprint, so the score is for the very strips the card reports.
Each way a user may send a strip (JPEG, scaled, photographed, dark on light) is re-measured too,
and over HTTP the same strips are sent each of those ways.
"""

import hashlib
import json
import os
import re

import numpy as np
import onnxruntime as ort
import pytest
from scipy.stats import binomtest

from training.data import arithmetic as ar
from training.data import strip_variants
from training.evaluation.strip_reading import evaluation_sets, spell, variant_sets
from training.export import sha256
from training.tasks.image2text import Config

MODEL = "image2text"
# Strips per variant, each one request; GENSEQ_HTTP_STRIPS=0 sends all the card's held-out strips.
HTTP_STRIPS = int(os.environ.get("GENSEQ_HTTP_STRIPS", 400))
# Chance of failing a service that reads exactly one point below the card (the test's bound).
FALSE_ALARM = 0.001


@pytest.fixture(scope="module")
def card(settings):
    return json.loads((settings.models_dir / MODEL / "card.json").read_text())


@pytest.fixture(scope="module")
def config(card):
    return Config(**card["training"]["config"])


@pytest.fixture(scope="module")
def held_out_sets(card, config):
    """The card's held-out strips, rebuilt from its config: one set a padding."""
    split = card["dataset"]["split"]
    _, unseen_q = ar.split(ar.all_queries(), split["train_fraction"], split["seed"])
    assert ar.fingerprint(unseen_q) == split["held_out_sha256"], "query split not reproducible"
    return evaluation_sets(config, unseen_q)[0]


@pytest.fixture(scope="module")
def held_out(card, held_out_sets):
    """The card's held-out strips, all paddings together: uint8 pixels and what they show."""
    pixels = np.concatenate([s.pixels.numpy() for s in held_out_sets.values()])
    digest = hashlib.sha256(pixels.tobytes()).hexdigest()
    assert digest == card["dataset"]["strips"]["held_out_sha256"], "strips not reproducible"
    return pixels, [t for s in held_out_sets.values() for t in s.texts]


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
    assert answer_right >= 0.985, f"answer exact match {answer_right:.4f}"
    # The solver reads the one-hot of each cell's reading: a strip read right is answered right.
    assert read_right >= 0.985, f"expression exact match {read_right:.4f}"


@pytest.fixture(scope="module")
def variant_scores(settings, config, held_out_sets):
    """Answer exact match per way of sending a strip (:mod:`training.data.strip_variants`),
    re-measured in onnxruntime on the card's variant strips (rebuilt from its config)."""
    sets = variant_sets(config, held_out_sets)
    session = ort.InferenceSession(str(settings.models_dir / MODEL / "model.onnx"))
    scores = {}
    for variant, strips in sets.items():
        pixels = strips.pixels.numpy()[:, None].astype(np.float32) / 255
        answers = np.concatenate(
            [
                session.run(["answer"], {"strip": pixels[i : i + 500]})[0]
                for i in range(0, len(pixels), 500)
            ]
        )
        truth = [ar.answer(t.strip()) for t in strips.texts]
        scores[variant] = np.mean(
            [a.strip() == t for a, t in zip(spell(answers.argmax(-1)), truth, strict=True)]
        )
    return scores


# 10,000 strips through the committee at about 8 CPU ms each: 90 s of one test process, an eighth
# of `make test`. The HTTP tests below check every way of sending against the card by default.
@pytest.mark.long
def test_every_way_of_sending_is_read_within_a_point_of_clean(
    card, held_out, onnx_read, variant_scores
):
    texts = [t.strip() for t in held_out[1]]
    clean = np.mean([a == ar.answer(t) for a, t in zip(onnx_read[0], texts, strict=True)])
    assert set(variant_scores) == set(strip_variants.VARIANTS)
    for variant, score in variant_scores.items():
        stated = card["metrics"][f"sent_{variant}_answer_exact_match"]
        assert abs(score - stated) <= 0.001, f"{variant}: {score:.4f} measured, card says {stated}"
        assert score >= clean - 0.01, f"{variant}: {score:.4f} against {clean:.4f} clean"


@pytest.mark.parametrize("variant", strip_variants.VARIANTS)
def test_http_reads_each_way_of_sending_as_the_card_says(client, card, held_out, variant):
    """Strips sent as users send them (new draws of each variant's randomness), one request each.
    A few hundred strips cannot pin a rate to a point, so the check is a one-sided binomial test:
    it fails when so few are right that reading a point below the card would rarely do that."""
    n = HTTP_STRIPS or len(held_out[1])
    rng = np.random.default_rng([2, strip_variants.VARIANTS.index(variant)])
    right = 0
    for i in rng.choice(len(held_out[1]), n, replace=False):
        body = strip_variants.upload(held_out[0][i], variant, rng)
        kind = "image/png" if body.startswith(b"\x89PNG") else "image/jpeg"
        sent = client.post("/solve/image", content=body, headers={"content-type": kind})
        assert sent.status_code == 200, sent.text
        truth = held_out[1][i].strip()
        right += sent.json()["answer"] == ar.answer(truth) and sent.json()["expression"] == truth
    stated = card["metrics"][f"sent_{variant}_answer_exact_match"]
    print(f"{variant}: {right} of {n} right (answer and expression) over HTTP; card: {stated}")
    p_value = binomtest(right, n, stated - 0.01, alternative="less").pvalue
    assert p_value >= FALSE_ALARM, f"{variant}: {right} of {n}, card: {stated} (p {p_value:.1e})"
