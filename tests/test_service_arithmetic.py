"""Query parsing and the one-hot codec, without a model."""

import numpy as np
import pytest

from service.arithmetic import QueryError, TextCodec, parse_query

CARD = {
    "symbols": "0123456789+- ",
    "query_length": 5,
    "answer_length": 3,
    "padding": {"query": "right", "answer": "right"},
}


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("81+24", "81+24"),
        (" 5 - 7 ", "5-7"),
        ("9\t+\n9", "9+9"),
        ("0-99", "0-99"),
        ("05+07", "5+7"),
        ("00-00", "0-0"),
    ],
)
def test_parse_accepts_and_normalises(raw: str, canonical: str) -> None:
    assert parse_query(raw, max_chars=64) == canonical


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("ab+1", "unexpected 'ab'"),
        ("100+1", "operand 100 is over 99"),
        ("5+123", "operand 123 is over 99"),
        ("005+1", "more than 2 digits"),
        ("-5+3", "negative operand '-5'"),
        ("5--3", "negative operand '-3'"),
        ("5*3", "unexpected '*'"),
        ("", "empty"),
        ("  \t ", "empty"),
        ("1" * 65, "65 characters long, over the limit of 64"),
        ("12", "no operator"),
        ("7+", "missing an operand"),
        ("+7", "missing an operand"),
        ("1+2+3", "more than one operator"),
    ],
)
def test_parse_rejects_saying_what_is_wrong_and_allowed(raw: str, problem: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse_query(raw, max_chars=64)
    assert problem in str(caught.value)
    assert "from 0 to 99" in str(caught.value)


@pytest.mark.parametrize(("padding", "padded"), [("right", "5+7  "), ("left", "  5+7")])
def test_encode_pads_on_the_card_side(padding: str, padded: str) -> None:
    codec = TextCodec.from_card({**CARD, "padding": {"query": padding}})
    x = codec.encode(["5+7", "81+24"])
    assert x.shape == (2, 5, 13) and x.dtype == np.float32
    assert np.all(x.sum(axis=-1) == 1)
    assert "".join(CARD["symbols"][i] for i in x[0].argmax(axis=-1)) == padded


def test_decode_takes_argmax_and_strips_blanks() -> None:
    codec = TextCodec.from_card(CARD)
    answers = ["105", "-48", "7  ", "  7"]
    probs = np.full((4, 3, 13), 0.01, dtype=np.float32)
    for row, answer in enumerate(answers):
        for pos, symbol in enumerate(answer.ljust(3)):
            probs[row, pos, CARD["symbols"].index(symbol)] = 0.9
    assert codec.decode(probs) == ["105", "-48", "7", "7"]


def test_codec_rejects_a_bad_padding() -> None:
    with pytest.raises(ValueError, match="padding.query"):
        TextCodec.from_card({**CARD, "padding": {"query": "middle"}})
