"""The training data of the arithmetic task: size, labels, encoding and the split."""

import numpy as np
import pytest

from training.data import arithmetic as ar


def test_all_queries_are_the_20000_distinct_queries():
    queries = ar.all_queries()
    assert len(queries) == len(set(queries)) == 20_000
    assert {"0+0", "99+99", "0-99", "81+24", "41-89"} <= set(queries)


def test_every_label_is_python_arithmetic():
    for a in range(100):
        for b in range(100):
            assert ar.answer(f"{a}+{b}") == str(a + b)
            assert ar.answer(f"{a}-{b}") == str(a - b)


def test_answers_fit_the_output_length():
    assert max(len(ar.answer(q)) for q in ar.all_queries()) == ar.ANSWER_LEN


@pytest.mark.parametrize("side", ar.PADDINGS)
def test_encode_decode_round_trip(side):
    queries = ar.all_queries()
    x = ar.encode(queries, ar.QUERY_LEN, side)
    assert x.shape == (20_000, 5, 13) and x.dtype == np.float32
    assert np.all(x.sum(axis=-1) == 1)
    assert ar.decode(x.argmax(axis=-1)) == queries


def test_padding_sides():
    assert ar.pad("5+7", 5, "right") == "5+7  "
    assert ar.pad("5+7", 5, "left") == "  5+7"
    assert ar.pad("5+7", 5, "middle") == " 5+7 "
    assert ar.pad("81+24", 5, "middle") == "81+24"
    blank = ar.SYMBOLS.index(" ")
    assert list(ar.encode(["5+7"], 5, "left")[0].argmax(-1)[:2]) == [blank, blank]


@pytest.mark.parametrize("side", ["left", "right"])
def test_answer_ids_round_trip(side):
    queries = ar.all_queries()
    assert ar.decode(ar.answer_ids(queries, side)) == [ar.answer(q) for q in queries]


def test_split_is_disjoint_complete_and_reproducible():
    train, held_out = ar.split(ar.all_queries(), 0.25, seed=3)
    assert len(train) == 5_000 and len(held_out) == 15_000
    assert not set(train) & set(held_out)
    assert set(train) | set(held_out) == set(ar.all_queries())
    assert ar.split(ar.all_queries(), 0.25, seed=3) == (train, held_out)
    assert ar.split(ar.all_queries(), 0.25, seed=4)[0] != train


def test_random_queries_are_the_draws_of_indices_into_all_queries():
    """Cards' graded pairs were drawn this way: the same generator state gives the same queries."""
    drawn = ar.random_queries(np.random.default_rng(5), 300)
    indices = np.random.default_rng(5).integers(20_000, size=300)
    assert drawn == [ar.all_queries()[i] for i in indices]
    assert len(set(drawn)) > 290 and {"+" in query for query in drawn} == {True, False}


def test_fingerprint_ignores_order_but_not_content():
    queries = ar.all_queries()[:100]
    assert ar.fingerprint(queries) == ar.fingerprint(queries[::-1])
    assert ar.fingerprint(queries) != ar.fingerprint(queries[1:])
