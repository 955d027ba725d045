"""The shipped text2text model, re-measured on its own held-out queries (not read from its card)."""

import json
import re

import onnxruntime as ort
import pytest

from training.data import arithmetic as ar
from training.export import sha256


@pytest.fixture(scope="module")
def card(settings):
    return json.loads((settings.models_dir / "text2text" / "card.json").read_text())


@pytest.fixture(scope="module")
def held_out(card):
    split = card["dataset"]["split"]
    _, queries = ar.split(ar.all_queries(), split["train_fraction"], split["seed"])
    assert ar.fingerprint(queries) == split["held_out_sha256"], "split not reproducible"
    return queries


def test_card_matches_its_onnx_file(card, settings):
    assert card["sha256"] == sha256(settings.models_dir / "text2text" / "model.onnx")
    assert re.fullmatch("[0-9a-f]{40}", card["code_version"]["commit"] or ""), "built from a commit"


def test_trained_on_at_most_half_of_the_queries(card, held_out):
    assert card["dataset"]["split"]["train_fraction"] <= 0.5
    assert len(held_out) >= 10_000


@pytest.mark.parametrize("side", ar.PADDINGS)
def test_every_held_out_query_answered_exactly(settings, held_out, side):
    session = ort.InferenceSession(str(settings.models_dir / "text2text" / "model.onnx"))
    probs = session.run(["probs"], {"query": ar.encode(held_out, ar.QUERY_LEN, side)})[0]
    answers = ar.decode(probs.argmax(-1))
    wrong = [(q, a) for q, a in zip(held_out, answers, strict=True) if a != ar.answer(q)]
    assert not wrong, f"{side}-padded: {len(wrong)} held-out queries wrong, e.g. {wrong[:5]}"


def test_all_20000_queries_through_http(client):
    queries = ar.all_queries()
    answers = []
    for start in range(0, len(queries), 4096):
        response = client.post("/solve/text", json={"queries": queries[start : start + 4096]})
        assert response.status_code == 200, response.text
        answers += response.json()["answers"]
    wrong = [(q, a) for q, a in zip(queries, answers, strict=True) if a != ar.answer(q)]
    assert not wrong, f"{len(wrong)} of the 20,000 queries wrong over HTTP, e.g. {wrong[:5]}"
