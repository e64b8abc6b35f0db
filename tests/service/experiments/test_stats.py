"""Each statistic against scipy/statsmodels or a hand computation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import optimize, special
from scipy import stats as st
from statsmodels.stats.proportion import (
    proportions_ztest,
    samplesize_proportions_2indep_onetail,
)
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

from pigen.service.experiments import stats
from pigen.service.experiments.stats import SampleStats


def test_sample_stats_of_array() -> None:
    s = SampleStats.of(np.array([1.0, 2.0, 3.0, 6.0]))
    assert (s.n, s.mean) == (4, 3.0)
    assert s.var == pytest.approx(14 / 3)  # ((4 + 1 + 0 + 9) / 3)


def test_z_test_proportions_matches_statsmodels() -> None:
    z, p = stats.z_test_proportions(200, 4000, 250, 4100)
    ref_z, ref_p = proportions_ztest([250, 200], [4100, 4000])
    assert z == pytest.approx(ref_z) and p == pytest.approx(ref_p)


def test_z_test_means_matches_statsmodels_unequal_variances() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.exponential(2.0, 3000), rng.exponential(2.1, 2500)
    z, p = stats.z_test_means(SampleStats.of(a), SampleStats.of(b))
    ref_z, ref_p = CompareMeans(DescrStatsW(b), DescrStatsW(a)).ztest_ind(usevar="unequal")
    assert z == pytest.approx(ref_z) and p == pytest.approx(ref_p)


def test_delta_method_lift_by_hand() -> None:
    c, t = SampleStats(n=1000, mean=0.05, var=0.05 * 0.95), SampleStats(1000, 0.06, 0.06 * 0.94)
    got = stats.relative_lift(c, t, alpha=0.05)
    var = (0.06 * 0.94 / 1000) / 0.05**2 + 0.06**2 * (0.05 * 0.95 / 1000) / 0.05**4
    assert got.estimate == pytest.approx(0.2)
    assert got.low == pytest.approx(0.2 - 1.959964 * math.sqrt(var), rel=1e-6)
    assert got.high == pytest.approx(0.2 + 1.959964 * math.sqrt(var), rel=1e-6)


def test_delta_method_lift_covers_the_truth_95_percent() -> None:
    rng = np.random.default_rng(1)
    true_lift, hits, runs = 0.1, 0, 2000
    for _ in range(runs):
        yc, yt = rng.exponential(1.0, 2000), rng.exponential(1.1, 2000)
        ci = stats.relative_lift(SampleStats.of(yc), SampleStats.of(yt))
        hits += ci.low <= true_lift <= ci.high
    assert abs(hits / runs - 0.95) < 0.015


def _beta_closed_form(x_c: int, n_c: int, x_t: int, n_t: int) -> float:
    """Evan Miller's exact sum for P(p_t > p_c) with Beta(1 + x, 1 + n - x) posteriors."""
    a_c, b_c, a_t, b_t = 1 + x_c, 1 + n_c - x_c, 1 + x_t, 1 + n_t - x_t
    total = 0.0
    for i in range(a_t):
        total += math.exp(special.betaln(a_c + i, b_c + b_t) - math.log(b_t + i)
                          - special.betaln(1 + i, b_t) - special.betaln(a_c, b_c))
    return total


@pytest.mark.parametrize("counts", [(10, 100, 15, 100), (3, 50, 2, 60), (40, 1000, 55, 1000),
                                    (120, 2400, 150, 2400)])
def test_prob_beat_control_beta_matches_closed_form(counts: tuple[int, int, int, int]) -> None:
    assert stats.prob_beat_control_beta(*counts) == pytest.approx(_beta_closed_form(*counts),
                                                                  abs=1e-6)


def test_prob_beat_control_beta_large_counts_vs_monte_carlo() -> None:
    rng = np.random.default_rng(2)
    x_c, n_c, x_t, n_t = 1500, 30_000, 1610, 30_000
    draws = (rng.beta(1 + x_t, 1 + n_t - x_t, 400_000) > rng.beta(1 + x_c, 1 + n_c - x_c, 400_000))
    assert stats.prob_beat_control_beta(x_c, n_c, x_t, n_t) == pytest.approx(draws.mean(),
                                                                             abs=3e-3)


def test_prob_beat_control_normal_by_hand() -> None:
    c, t = SampleStats(100, 1.0, 4.0), SampleStats(100, 1.2, 4.0)
    assert stats.prob_beat_control_normal(c, t) == pytest.approx(st.norm.cdf(0.2 / math.sqrt(0.08)))


def test_srm_matches_scipy_chisquare() -> None:
    chi2, p = stats.srm_test(np.array([4800, 5200]), np.array([1.0, 1.0]))
    ref = st.chisquare([4800, 5200], [5000, 5000])
    assert chi2 == pytest.approx(ref.statistic) and p == pytest.approx(ref.pvalue)
    assert p < 0.001  # a 48/52 split of 10,000 users is flagged
    chi2, p = stats.srm_test(np.array([1010, 1990, 3000]), np.array([1.0, 2.0, 3.0]))
    ref = st.chisquare([1010, 1990, 3000], [1000, 2000, 3000])
    assert chi2 == pytest.approx(ref.statistic) and p == pytest.approx(ref.pvalue)


def test_msprt_ci_is_where_lambda_crosses_one_over_alpha() -> None:
    diff, var, tau, alpha = 0.004, 1.0e-6, 0.005, 0.05
    ci = stats.msprt_ci(diff, var, tau, alpha)

    def excess(theta0: float) -> float:  # Johari et al.'s statistic, written out directly
        lam = math.sqrt(var / (var + tau**2)) * math.exp(
            tau**2 * (diff - theta0) ** 2 / (2 * var * (var + tau**2)))
        return lam - 1 / alpha

    assert ci.low == pytest.approx(optimize.brentq(excess, diff - 0.01, diff), rel=1e-9)
    assert ci.high == pytest.approx(optimize.brentq(excess, diff, diff + 0.01), rel=1e-9)
    # Wider than the fixed-horizon interval: the price of looking at any time.
    assert ci.high - diff > 1.96 * math.sqrt(var)
    assert stats.msprt_p_value(diff, var, tau) == pytest.approx(
        1 / (excess(0.0) + 1 / alpha))


def test_msprt_without_information_is_infinite() -> None:
    ci = stats.msprt_ci(0.1, 0.0, 0.01)
    assert (ci.low, ci.high) == (-math.inf, math.inf)
    assert stats.msprt_p_value(0.1, 0.0, 0.01) == 1.0


def test_msprt_controls_error_under_continuous_peeking() -> None:
    """A/A with a look after every 200 users per arm: rejections stay below alpha."""
    rng = np.random.default_rng(3)
    runs, looks, batch, p0 = 400, 50, 200, 0.1
    rejected = 0
    for _ in range(runs):
        xc = np.cumsum(rng.binomial(batch, p0, looks))
        xt = np.cumsum(rng.binomial(batch, p0, looks))
        n = batch * np.arange(1, looks + 1)
        for k in range(looks):
            pc, pt = xc[k] / n[k], xt[k] / n[k]
            var = pc * (1 - pc) / n[k] + pt * (1 - pt) / n[k]
            tau = stats.msprt_tau((xc[k] + xt[k]) / (2 * n[k]))
            if stats.msprt_ci(pt - pc, var, tau).excludes_zero:
                rejected += 1
                break
    assert rejected / runs <= 0.05


def test_cuped_theta_is_the_ols_slope_and_reduces_variance() -> None:
    rng = np.random.default_rng(4)
    x = rng.poisson(5.0, 5000).astype(float)
    y = 0.3 * x + rng.normal(0, 1, 5000)
    slope = st.linregress(x, y).slope
    assert stats.cuped_theta(y, x) == pytest.approx(slope)
    adjusted = stats.cuped_adjust(y, x)
    assert adjusted.mean() == pytest.approx(y.mean())
    r2 = np.corrcoef(x, y)[0, 1] ** 2
    assert adjusted.var(ddof=1) == pytest.approx(y.var(ddof=1) * (1 - r2), rel=1e-9)
    assert stats.cuped_theta(y, np.ones_like(y)) == 0.0


def test_sample_size_and_power_match_statsmodels() -> None:
    n = stats.sample_size_two_proportions(0.05, 0.10, alpha=0.05, power=0.8)
    ref = samplesize_proportions_2indep_onetail(0.005, 0.05, 0.8, alpha=0.05)
    assert n == pytest.approx(ref, rel=1e-3)
    assert stats.power_two_proportions(0.05, 0.10, n) == pytest.approx(0.8, abs=2e-3)


def _binary(x: int, n: int) -> np.ndarray:
    return np.r_[np.ones(x), np.zeros(n - x)]


def test_the_reported_interval_and_p_value_are_one_test() -> None:
    """The admin page once showed [-122%, -38%] beside p = 0.085 (5/30 vs 1/30): the
    delta-method interval and the pooled test disagree at small counts. The reported
    lift interval (Fieller) and difference interval exclude 0 exactly when p < alpha."""
    c, t = SampleStats.of(_binary(5, 30)), SampleStats.of(_binary(1, 30))
    assert stats.relative_lift(c, t).excludes_zero  # the old, disagreeing pair
    assert stats.z_test_proportions(5, 30, 1, 30)[1] > 0.05
    _, p = stats.z_test_means(c, t)
    assert p > 0.05 and not stats.fieller_lift(c, t).excludes_zero
    rng = np.random.default_rng(3)
    checked = 0
    for _ in range(400):
        n_c, n_t = rng.integers(20, 400, 2)
        alpha = float(rng.choice([0.01, 0.05, 0.1]))
        if rng.random() < 0.5:
            yc = _binary(int(rng.integers(1, n_c // 3)), int(n_c))
            yt = _binary(int(rng.integers(1, n_t // 3)), int(n_t))
        else:
            yc, yt = rng.exponential(10.0, n_c), rng.exponential(rng.uniform(7, 14), n_t)
        c, t = SampleStats.of(yc), SampleStats.of(yt)
        z, p = stats.z_test_means(c, t)
        expected = CompareMeans(DescrStatsW(yt), DescrStatsW(yc)).ztest_ind(usevar="unequal")
        assert (z, p) == pytest.approx(expected, rel=1e-9)
        assert stats.difference(c, t, alpha).excludes_zero == (p < alpha)
        lift = stats.fieller_lift(c, t, alpha)
        if math.isfinite(lift.low):
            checked += 1
            assert lift.excludes_zero == (p < alpha)
            assert lift.low <= lift.estimate <= lift.high
            # The bounds are where the Wald statistic of mean_t - r mean_c is exactly z.
            for r in (1 + lift.low, 1 + lift.high):
                wald = abs(t.mean - r * c.mean) / math.sqrt(t.var_of_mean
                                                            + r * r * c.var_of_mean)
                assert wald == pytest.approx(st.norm.ppf(1 - alpha / 2), rel=1e-6)
    assert checked > 300
