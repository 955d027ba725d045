"""The Frechet distance behind the domain FID, against closed forms."""

import numpy as np
import pytest

from training.evaluation.domain_fid import frechet, frechet_distance


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


def test_statistics_form_matches_the_sqrtm_that_fid_packages_compute():
    scipy_linalg = pytest.importorskip("scipy.linalg")
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((40, 64)), rng.standard_normal((300, 64)) @ rng.random((64, 64))
    mean_a, cov_a = a.mean(0), np.cov(a, rowvar=False)  # rank 39 of 64, as few samples give
    mean_b, cov_b = b.mean(0), np.cov(b, rowvar=False)
    root = scipy_linalg.sqrtm(cov_b @ cov_a)
    expected = ((mean_a - mean_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * root.real)
    assert frechet_distance(mean_a, cov_a, mean_b, cov_b) == pytest.approx(expected, rel=1e-6)
