"""The Frechet distance behind the domain FID, against closed forms."""

import numpy as np

from training.evaluation.domain_fid import frechet


def test_same_distribution_is_near_zero_and_a_shift_costs_its_square():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((20_000, 4)), rng.standard_normal((20_000, 4))
    assert frechet(a, b) < 0.01
    assert abs(frechet(a, b + [3, 0, 0, 0]) - 9) < 0.1


def test_scaled_covariance_matches_the_closed_form():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((50_000, 3))
    b = rng.standard_normal((50_000, 3)) * 2  # variances 1 and 4: each dim adds (1 - 2)^2 = 1
    assert abs(frechet(a, b) - 3) < 0.1
