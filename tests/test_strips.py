"""Operator glyphs and handwritten strips: shape, padding, variety, augmentation, and no leaks."""

import numpy as np
import pytest

from training.data import arithmetic as ar
from training.data import glyphs
from training.data.mnist import load_mnist
from training.data.strips import make_strips

QUERIES = ar.all_queries()[::97]  # 207 queries, both operators, one- and two-digit operands


def cells(strips: np.ndarray) -> np.ndarray:
    """``[n, 28, 140]`` strips as ``[n, 5, 28, 28]`` cells."""
    return strips.reshape(len(strips), 28, 5, 28).transpose(0, 2, 1, 3)


def fingerprints(images: np.ndarray) -> dict[bytes, int]:
    """Each image's bytes, mapped to its index."""
    return {row.tobytes(): i for i, row in enumerate(images.reshape(len(images), -1))}


def glyph_vectors(symbol: str, n: int, seed: int, family: str) -> np.ndarray:
    drawn = glyphs.draw_many(symbol * n, np.random.default_rng(seed), family)
    return drawn.reshape(n, -1).astype(np.float32) / 255


def distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sqrt(((a[:, None] - b[None]) ** 2).sum(-1))


@pytest.mark.parametrize("family", ["train", "test"])
@pytest.mark.parametrize("symbol", ["+", "-"])
def test_glyphs_look_like_mnist_cells(symbol, family):
    drawn = glyphs.draw_many(symbol * 50, np.random.default_rng(0), family)
    assert drawn.shape == (50, 28, 28) and drawn.dtype == np.uint8
    assert drawn.max() >= 200 and np.all(drawn.reshape(50, -1).max(1) > 100)  # visible strokes
    ring = np.concatenate([drawn[:, 0], drawn[:, -1], drawn[:, :, 0], drawn[:, :, -1]], axis=1)
    assert ring.max() <= 10  # strokes stay in the 20x20 box; only blur reaches the border
    ink = drawn > 50
    rows, cols = ink.any(axis=2).sum(1), ink.any(axis=1).sum(1)
    assert np.all(cols >= 7) and np.all(cols <= 22)
    if symbol == "-":
        assert np.all(rows <= 0.6 * cols)
    else:
        assert np.all(rows >= 7)


@pytest.mark.parametrize(("symbol", "floor"), [("+", 0.25), ("-", 0.1)])
def test_glyphs_vary(symbol, floor):
    drawn = glyph_vectors(symbol, 100, seed=1, family="train")
    pairs = distances(drawn, drawn)[np.triu_indices(100, k=1)]
    assert pairs.min() > floor * np.linalg.norm(drawn, axis=1).mean()


@pytest.mark.parametrize("symbol", ["+", "-"])
def test_test_family_is_not_the_train_family(symbol):
    # The families share wide parameter ranges (the train family is meant to be varied), but the
    # test pen moves differently: it shakes and its stroke tapers. No test drawing is a train one.
    assert glyphs.FAMILIES["train"].tremor == 0 < glyphs.FAMILIES["test"].tremor
    assert glyphs.FAMILIES["train"].taper == (1, 1) and max(glyphs.FAMILIES["test"].taper) < 1
    train = glyph_vectors(symbol, 300, seed=1, family="train")
    test = glyph_vectors(symbol, 100, seed=1, family="test")
    assert distances(test, train).min() > 0.5


def test_glyphs_are_reproducible_and_refuse_other_symbols():
    one = glyphs.draw_many("+-+", np.random.default_rng(7))
    assert np.array_equal(one, glyphs.draw_many("+-+", np.random.default_rng(7)))
    assert glyphs.draw_many("", np.random.default_rng(7)).shape == (0, 28, 28)
    with pytest.raises(ValueError, match="only"):
        glyphs.draw_many("+x", np.random.default_rng(7))


@pytest.mark.parametrize("source", ["train", "test"])
def test_strip_layout_follows_the_text(source):
    strips, texts = make_strips(QUERIES, source, np.random.default_rng(0))
    assert strips.shape == (len(QUERIES), 28, 140) and strips.dtype == np.uint8
    assert [t.strip() for t in texts] == QUERIES and {len(t) for t in texts} == {5}
    grid = cells(strips)
    for text, row in zip(texts, grid, strict=True):
        for char, cell in zip(text, row, strict=True):
            assert (cell.max() == 0) == (char == ar.BLANK), (text, char)
    assert {t.startswith(" ") for t in texts if len(t.strip()) < 5} == {True, False}


@pytest.mark.parametrize("side", ar.PADDINGS)
def test_each_padding(side):
    strips, texts = make_strips(["5+7"], "train", np.random.default_rng(0), paddings=(side,))
    assert texts == [ar.pad("5+7", 5, side)]
    ink = cells(strips)[0].reshape(5, -1).max(1) > 0
    assert ink.tolist() == [c != " " for c in texts[0]]


@pytest.mark.parametrize(("source", "other"), [("train", "test"), ("test", "train")])
def test_digits_come_from_their_source_only(source, other):
    images, labels = load_mnist(source)
    own, foreign = fingerprints(images), fingerprints(load_mnist(other)[0])
    strips, texts = make_strips(QUERIES, source, np.random.default_rng(1))
    seen = 0
    for text, row in zip(texts, cells(strips), strict=True):
        for char, cell in zip(text, row, strict=True):
            key = cell.tobytes()
            assert key not in foreign
            if char.isdigit():
                assert labels[own[key]] == int(char)
                seen += 1
            else:
                assert key not in own
    assert seen > 3 * len(QUERIES)


def test_strips_are_reproducible():
    a = make_strips(QUERIES[:20], "train", np.random.default_rng(5), augment=True)
    b = make_strips(QUERIES[:20], "train", np.random.default_rng(5), augment=True)
    assert np.array_equal(a[0], b[0]) and a[1] == b[1]


def test_augmentation_changes_ink_only():
    plain, texts = make_strips(QUERIES, "train", np.random.default_rng(2))
    bent, same_texts = make_strips(QUERIES, "train", np.random.default_rng(2), augment=True)
    assert same_texts == texts and bent.dtype == np.uint8 and bent.shape == plain.shape
    own = fingerprints(load_mnist("train")[0])
    digit_cells = [
        cell.tobytes()
        for text, row in zip(texts, cells(bent), strict=True)
        for char, cell in zip(text, row, strict=True)
        if char.isdigit()
    ]
    assert np.mean([key in own for key in digit_cells]) < 0.01  # nearly every digit is distorted
    blank = np.array([[c == " " for c in t] for t in texts])
    assert np.all(cells(bent)[blank] == 0)
    ink = cells(bent)[~blank].reshape(int((~blank).sum()), -1).max(1)
    assert np.all(ink > 40) and bent.max() == 255
    mean_change = np.abs(bent.astype(int) - plain).mean()
    assert mean_change > 5


def test_bad_queries_are_refused():
    with pytest.raises(ValueError, match="queries"):
        make_strips(["5*7"], "train", np.random.default_rng(0))
