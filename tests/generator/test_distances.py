import numpy as np
import pytest

from pigen.generator.distances import frechet_distance, kernel_inception_distance


def test_fid_of_a_set_with_itself_is_zero() -> None:
    x = np.random.default_rng(0).normal(size=(500, 8))
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-6)


def test_fid_matches_the_closed_form_for_gaussians() -> None:
    rng = np.random.default_rng(1)
    a = rng.normal(0.0, 1.0, size=(200_000, 2))
    b = rng.normal(1.0, 2.0, size=(200_000, 2))
    # |mu|^2 = 2; Tr(1 + 4 - 2 * sqrt(4)) per dimension = 1 each -> 2 + 2 = 4
    assert frechet_distance(a, b) == pytest.approx(4.0, rel=0.02)


def test_kid_is_near_zero_for_one_distribution_and_positive_for_two() -> None:
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(2000, 16)), rng.normal(size=(2000, 16))
    c = rng.normal(0.5, 1.0, size=(2000, 16))
    same, different = kernel_inception_distance(a, b), kernel_inception_distance(a, c)
    assert abs(same) < 0.01 < different
