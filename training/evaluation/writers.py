"""Grading the handwriting writers (:mod:`training.models.cell_writers`) with the glyph judge.

A cell decoder is graded on drawings of each class; a whole writer (speller + decoder) on random
(query, seed) pairs, on queries its speller never trained on, on how much its seeds vary the
handwriting (against how much MNIST writers differ) and on whether its digits copy MNIST training
images. Style latents come from seeds exactly as the service draws them.
"""

import numpy as np
import torch
from torch import nn

from service.latents import from_seed
from training.data import arithmetic as ar
from training.data.cells import BLANK, CELL_SYMBOLS
from training.data.mnist import load_mnist
from training.devices import device_of
from training.evaluation.glyph_judge import GlyphJudge, cells_of, copy_check, grade_renders, spread
from training.models.cell_writers import CELL, N_CLASSES, CellDecoder, Renderer, one_hot

DIVERSITY_QUERIES, DIVERSITY_SEEDS = 40, 16


def draw_classes(decoder: CellDecoder, per_class: int, seed: int) -> np.ndarray:
    """``per_class`` cells of every class from seeded latents: ``[12, per_class, 28, 28]``."""
    device = device_of(decoder)
    z = torch.randn(
        N_CLASSES * per_class, decoder.latent, generator=torch.Generator().manual_seed(seed)
    )
    labels = torch.arange(N_CLASSES).repeat_interleave(per_class)
    with torch.no_grad():
        drawn = decoder.eval()(z.to(device), one_hot(labels).to(device))
    return drawn.view(N_CLASSES, per_class, CELL, CELL).cpu().numpy()


def class_samples(decoder: CellDecoder) -> torch.Tensor:
    """Eight drawings of each class ``[96, 1, 28, 28]``, the same latents every epoch."""
    return torch.from_numpy(draw_classes(decoder, 8, seed=0)).reshape(-1, 1, CELL, CELL)


def grade_decoder(
    decoder: CellDecoder, judge: GlyphJudge, per_class: int = 200, seed: int = 1
) -> dict:
    """The judge's accuracy on drawn cells of each class; how varied each digit's drawings are."""
    drawn = draw_classes(decoder, per_class, seed)
    verdicts = judge(drawn.reshape(-1, CELL, CELL)).reshape(N_CLASSES, per_class)
    right = verdicts == np.arange(N_CLASSES)[:, None]
    return {
        "judged_right": float(right.mean()),
        "judged_right_digits": float(right[:10].mean()),
        "judged_blank_blank": float(right[BLANK].mean()),
        "digit_spread": float(np.mean([spread(drawn[d, :100]) for d in range(10)])),
    }


GRADED_PAIRS = 4000  # random (query, seed) pairs the judge grades


def style(seeds: list[int], latent: int) -> np.ndarray:
    """The style latent of each seed, as the service draws it: ``[n, latent]``."""
    return np.concatenate([from_seed(s, 1, latent) for s in seeds])


@torch.no_grad()
def render(model: Renderer, queries: list[str], seeds: list[int], latent: int) -> np.ndarray:
    """Images ``[n, 28, 84]`` of ``queries`` (right-padded, as the service sends them)."""
    x = torch.from_numpy(ar.encode(queries, ar.QUERY_LEN, "right"))
    return model(x, torch.from_numpy(style(seeds, latent)))[0][:, 0].numpy()


def diversity(model: Renderer, latent: int, rng: np.random.Generator) -> dict[str, float]:
    """Per digit: spread of one query's cells over 16 seeds / spread of MNIST test digits.

    Cells of the same character at the same place of the same query differ only by the style
    latent; random MNIST test digits of that class differ by writer. A ratio near 1 means the
    seeds vary the handwriting about as much as different people do.
    """
    every = ar.all_queries()
    queries = [every[i] for i in rng.choice(len(every), DIVERSITY_QUERIES, replace=False)]
    seeds = list(range(DIVERSITY_SEEDS))
    groups: dict[int, list[float]] = {d: [] for d in range(10)}
    for query in queries:
        cells = cells_of(render(model, [query] * len(seeds), seeds, latent))
        for place, symbol in enumerate(ar.answer(query)):
            if symbol.isdigit():
                groups[int(symbol)].append(spread(cells[:, place]))
    images, labels = load_mnist("test")
    ratios = {}
    for digit, spreads in groups.items():
        if spreads:
            pick = rng.choice(np.flatnonzero(labels == digit), 200, replace=False)
            ratios[CELL_SYMBOLS[digit]] = float(np.mean(spreads) / spread(images[pick] / 255))
    return {"diversity_ratio_min": min(ratios.values()), "diversity_ratio": ratios}


def grade(model: Renderer, latent: int, judge: GlyphJudge, held_out: list[str]) -> dict:
    """The judge's verdict on random (query, seed) pairs, over all queries and held-out ones."""
    rng = np.random.default_rng(12345)
    queries = ar.random_queries(rng, GRADED_PAIRS)
    seeds = [int(s) for s in rng.integers(2**31, size=GRADED_PAIRS + len(held_out))]
    images = render(model, queries, seeds[:GRADED_PAIRS], latent)
    unseen = render(model, held_out, seeds[GRADED_PAIRS:], latent)
    return {
        **grade_renders(images, queries, judge),
        "graded_pairs": GRADED_PAIRS,
        **{f"held_out_queries_{k}": v for k, v in grade_renders(unseen, held_out, judge).items()},
        "held_out_queries": len(held_out),
        **diversity(model, latent, rng),
        **copy_check(images, queries),
    }


def study_images(model: nn.Module, queries: list[str]) -> np.ndarray:
    """The baseline's answers ``[n, 28, 84]`` to ``queries`` (right-padded)."""
    device = device_of(model)
    with torch.no_grad():
        x = torch.from_numpy(ar.encode(queries, ar.QUERY_LEN, "right")).to(device)
        cells = model.eval()(x)
    return cells.permute(0, 2, 1, 3).reshape(len(queries), CELL, -1).cpu().numpy()
