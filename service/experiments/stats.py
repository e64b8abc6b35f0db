"""The statistics of an A/B test, as pure functions of summary numbers or arrays.

Every function here is checked in the tests against scipy, statsmodels or a hand
computation. Conventions: ``c`` is control, ``t`` is treatment; a *lift* is
relative (``mean_t / mean_c - 1``); a *difference* is absolute (``mean_t - mean_c``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import integrate
from scipy import stats as st

#: Default mSPRT mixture scale, relative to the metric's pooled mean (see :func:`msprt_tau`).
DEFAULT_TAU_RELATIVE = 0.1


@dataclass(frozen=True)
class SampleStats:
    """What the tests need of one arm: size, mean and (unbiased) variance of a per-user metric."""

    n: int
    mean: float
    var: float

    @classmethod
    def of(cls, values: np.ndarray) -> SampleStats:
        values = np.asarray(values, dtype=np.float64)
        n = int(values.size)
        if n == 0:
            return cls(0, math.nan, math.nan)
        var = float(values.var(ddof=1)) if n > 1 else 0.0
        return cls(n, float(values.mean()), var)

    @property
    def var_of_mean(self) -> float:
        """Variance of the sample mean, ``var / n``."""
        return self.var / self.n if self.n else math.nan


@dataclass(frozen=True)
class Interval:
    """An estimate with a two-sided interval."""

    estimate: float
    low: float
    high: float

    @property
    def excludes_zero(self) -> bool:
        return self.low > 0.0 or self.high < 0.0


def _z(alpha: float) -> float:
    return float(st.norm.ppf(1.0 - alpha / 2.0))


def relative_lift(c: SampleStats, t: SampleStats, alpha: float = 0.05) -> Interval:
    """Relative lift ``mean_t / mean_c - 1`` with a delta-method interval.

    The ratio R = m_t / m_c of two independent means has, to first order,
    ``Var(R) = Var(m_t) / m_c**2 + m_t**2 Var(m_c) / m_c**4``. A plain
    ``(m_t - m_c) / m_c`` interval would ignore that the denominator is noisy too.
    NaNs come back when control's mean is 0 (the lift is undefined).
    """
    if c.n < 2 or t.n < 2 or c.mean == 0.0:
        return Interval(math.nan, math.nan, math.nan)
    ratio = t.mean / c.mean
    var = t.var_of_mean / c.mean**2 + t.mean**2 * c.var_of_mean / c.mean**4
    half = _z(alpha) * math.sqrt(var)
    return Interval(ratio - 1.0, ratio - 1.0 - half, ratio - 1.0 + half)


def difference(c: SampleStats, t: SampleStats, alpha: float = 0.05) -> Interval:
    """Absolute difference of means with a Welch (unpooled) normal interval."""
    diff = t.mean - c.mean
    half = _z(alpha) * math.sqrt(t.var_of_mean + c.var_of_mean)
    return Interval(diff, diff - half, diff + half)


def z_test_means(c: SampleStats, t: SampleStats) -> tuple[float, float]:
    """Two-sided z test of equal means with unpooled variances -> ``(z, p)``.

    The test every reported interval is inverted from: :func:`difference` and
    :func:`fieller_lift` exclude 0 exactly when this p is below alpha. With thousands
    of users per arm the t and normal references agree.
    """
    se = math.sqrt(t.var_of_mean + c.var_of_mean)
    if not se > 0.0:
        return (math.nan, 1.0)
    z = (t.mean - c.mean) / se
    return (z, float(2.0 * st.norm.sf(abs(z))))


def z_test_proportions(x_c: int, n_c: int, x_t: int, n_t: int) -> tuple[float, float]:
    """Two-sided two-proportion z test with the pooled null variance -> ``(z, p)``.

    Under H0 both arms share one rate, so its pooled estimate gives the standard
    error (the textbook test; statsmodels' ``proportions_ztest`` does the same).
    """
    if n_c == 0 or n_t == 0:
        return (math.nan, 1.0)
    pooled = (x_c + x_t) / (n_c + n_t)
    se = math.sqrt(pooled * (1.0 - pooled) * (1.0 / n_c + 1.0 / n_t))
    if se == 0.0:
        return (math.nan, 1.0)
    z = (x_t / n_t - x_c / n_c) / se
    return (z, float(2.0 * st.norm.sf(abs(z))))


def prob_beat_control_beta(
    x_c: int, n_c: int, x_t: int, n_t: int, prior: tuple[float, float] = (1.0, 1.0)
) -> float:
    """P(rate_t > rate_c) under independent Beta posteriors (uniform prior by default).

    Computed as ``∫ f_t(p) F_c(p) dp`` by adaptive quadrature over where the
    treatment posterior has its mass, so it is exact to ~1e-8 and needs no seed.
    """
    a, b = prior
    post_c = st.beta(a + x_c, b + n_c - x_c)
    post_t = st.beta(a + x_t, b + n_t - x_t)
    low = min(post_t.ppf(1e-12), post_c.ppf(1e-12))
    high = max(post_t.isf(1e-12), post_c.isf(1e-12))
    points = sorted({float(post_t.mean()), float(post_c.mean())})
    value, _ = integrate.quad(lambda p: post_t.pdf(p) * post_c.cdf(p), low, high,
                              points=points, limit=200, epsabs=1e-10)
    return float(min(1.0, max(0.0, value)))


def prob_beat_control_normal(c: SampleStats, t: SampleStats) -> float:
    """P(mean_t > mean_c) under the flat-prior normal posterior of the difference.

    Used for revenue per user (and CUPED-adjusted metrics), where no conjugate
    model fits; with large n the posterior of each mean is N(mean, var/n).
    """
    se = math.sqrt(t.var_of_mean + c.var_of_mean)
    if not se > 0.0:
        return 0.5
    return float(st.norm.cdf((t.mean - c.mean) / se))


def srm_test(observed: np.ndarray, shares: np.ndarray) -> tuple[float, float]:
    """Sample ratio mismatch: chi-square goodness of fit of user counts to the design.

    A split far from the configured weights means the assignment or logging is
    broken, and no other number of the experiment can be trusted. Returns
    ``(chi2, p)``; the convention is to flag ``p < 0.001``.
    """
    observed = np.asarray(observed, dtype=np.float64)
    shares = np.asarray(shares, dtype=np.float64)
    total = observed.sum()
    if total == 0:
        return (0.0, 1.0)
    expected = total * shares / shares.sum()
    chi2 = float(((observed - expected) ** 2 / expected).sum())
    return (chi2, float(st.chi2.sf(chi2, df=len(observed) - 1)))


def msprt_tau(pooled_mean: float, tau_relative: float = DEFAULT_TAU_RELATIVE) -> float:
    """The mixture scale tau of :func:`msprt_ci`: ``tau_relative * |pooled mean|``.

    tau is the standard deviation of the normal prior N(0, tau**2) over the true
    difference that the mSPRT mixes over (Johari et al., 2017). The test is most
    powerful against differences of about tau, so tau should be the size of effect
    the experiment hopes to find: 10% of the metric by default (a +10% conversion
    lift). Any tau keeps the error guarantee; a wrong one only costs power.
    """
    return abs(pooled_mean) * tau_relative


def msprt_log_lambda(diff: float, var_diff: float, tau: float, theta0: float = 0.0) -> float:
    """log of the mSPRT mixture likelihood ratio for H0: difference == theta0.

    With the difference estimate ``diff ~ N(theta, V)`` (``V = var_diff``) and the
    mixture ``theta ~ N(theta0, tau**2)``::

        Lambda = sqrt(V / (V + tau^2)) * exp(tau^2 (diff - theta0)^2 / (2 V (V + tau^2)))

    Lambda is a martingale under H0, so by Ville's inequality P(ever >= 1/alpha) <= alpha.
    """
    v, t2 = var_diff, tau * tau
    return 0.5 * math.log(v / (v + t2)) + t2 * (diff - theta0) ** 2 / (2.0 * v * (v + t2))


def msprt_ci(diff: float, var_diff: float, tau: float, alpha: float = 0.05) -> Interval:
    """Always-valid (1 - alpha) confidence interval for a difference of means, by mSPRT.

    The interval is every theta0 the mSPRT would not reject: solving
    ``Lambda(theta0) < 1 / alpha`` for theta0 gives ``diff +- half`` with::

        half = sqrt(2 V (V + tau^2) / tau^2 * (log(1/alpha) + log((V + tau^2) / V) / 2))

    It covers the true difference at *every* look simultaneously with probability
    ``1 - alpha``, which is why checking it daily does not inflate false positives.
    Infinite when there is no information yet (V or tau not positive).
    """
    if not (var_diff > 0.0 and tau > 0.0) or not math.isfinite(diff):
        return Interval(diff, -math.inf, math.inf)
    half = float(msprt_half_width(var_diff, tau, alpha))
    return Interval(diff, diff - half, diff + half)


def msprt_half_width(var_diff: np.ndarray | float, tau: np.ndarray | float,
                     alpha: float = 0.05) -> np.ndarray:
    """Half-width of :func:`msprt_ci`, elementwise over arrays (the simulations' fast path).

    Infinite where ``var_diff`` or ``tau`` is not positive (no information yet).
    """
    v = np.asarray(var_diff, dtype=np.float64)
    t2 = np.asarray(tau, dtype=np.float64) ** 2
    ok = (v > 0) & (t2 > 0)
    v_safe, t2_safe = np.where(ok, v, 1.0), np.where(ok, t2, 1.0)
    half = np.sqrt(2.0 * v_safe * (v_safe + t2_safe) / t2_safe
                   * (math.log(1.0 / alpha) + 0.5 * np.log((v_safe + t2_safe) / v_safe)))
    return np.where(ok, half, np.inf)


def msprt_p_value(diff: float, var_diff: float, tau: float) -> float:
    """Always-valid p-value ``min(1, 1 / Lambda)`` at this look (take the running minimum
    over looks for the sequence's p-value)."""
    if not (var_diff > 0.0 and tau > 0.0) or not math.isfinite(diff):
        return 1.0
    return float(min(1.0, math.exp(-msprt_log_lambda(diff, var_diff, tau))))


def cuped_theta(y: np.ndarray, x: np.ndarray) -> float:
    """CUPED coefficient ``cov(Y, X) / var(X)``, pooled over all arms.

    Pooling keeps theta the same for every arm, so the adjustment cannot create a
    difference between arms (X is measured before assignment). 0 when X is constant.
    """
    y = np.asarray(y, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    if y.size < 2:
        return 0.0
    var_x = float(x.var(ddof=1))
    if var_x == 0.0:
        return 0.0
    return float(np.cov(y, x, ddof=1)[0, 1] / var_x)


def cuped_adjust(y: np.ndarray, x: np.ndarray, theta: float | None = None) -> np.ndarray:
    """``Y - theta (X - mean(X))``: same mean as Y, variance shrunk by ``corr(Y, X)**2``."""
    y = np.asarray(y, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    theta = cuped_theta(y, x) if theta is None else theta
    return y - theta * (x - x.mean())


def sample_size_two_proportions(
    p_control: float, relative_lift: float, alpha: float = 0.05, power: float = 0.8
) -> int:
    """Users per arm to detect ``p_control * (1 + relative_lift)`` with a two-sided z test.

    Normal approximation with the null variance at the pooled rate and the
    alternative's at the two rates::

        n = (z_{1-alpha/2} sqrt(2 pbar qbar) + z_{power} sqrt(p1 q1 + p2 q2))^2 / (p2 - p1)^2
    """
    p1 = p_control
    p2 = p_control * (1.0 + relative_lift)
    if not (0.0 < p1 < 1.0 and 0.0 < p2 < 1.0) or p1 == p2:
        raise ValueError("rates must be in (0, 1) and differ")
    pbar = (p1 + p2) / 2.0
    z_a, z_b = _z(alpha), float(st.norm.ppf(power))
    root = z_a * math.sqrt(2.0 * pbar * (1.0 - pbar)) + z_b * math.sqrt(
        p1 * (1.0 - p1) + p2 * (1.0 - p2))
    return int(math.ceil(root**2 / (p2 - p1) ** 2))


def power_two_proportions(p_control: float, relative_lift: float, n_per_arm: int,
                          alpha: float = 0.05) -> float:
    """Power of the two-sided pooled z test at ``n_per_arm`` (inverse of the above)."""
    p1, p2 = p_control, p_control * (1.0 + relative_lift)
    pbar = (p1 + p2) / 2.0
    se0 = math.sqrt(2.0 * pbar * (1.0 - pbar) / n_per_arm)
    se1 = math.sqrt((p1 * (1.0 - p1) + p2 * (1.0 - p2)) / n_per_arm)
    delta = abs(p2 - p1)
    return float(st.norm.sf((_z(alpha) * se0 - delta) / se1)
                 + st.norm.cdf((-_z(alpha) * se0 - delta) / se1))



def fieller_lift(c: SampleStats, t: SampleStats, alpha: float = 0.05) -> Interval:
    """Relative lift ``mean_t / mean_c - 1`` with Fieller's interval.

    The interval is every ratio r the Wald test of ``mean_t - r mean_c = 0`` (unpooled
    variances, arms independent) does not reject::

        (m_t - r m_c)^2 <= z^2 (V_t + r^2 V_c)

    At r = 1 that is :func:`z_test_means`, so the lift interval excludes 0 exactly when
    that p-value is below alpha: the interval and the p shown beside it are one test.
    (The delta-method interval of :func:`relative_lift` can disagree with it at small
    counts: an interval of [-95%, -12%] next to p = 0.082.) When control's mean is not
    itself distinguishable from 0 the set is unbounded; then the bounds are NaN (the
    lift is undefined at this sample size; read the difference instead).
    """
    if c.n < 2 or t.n < 2 or c.mean == 0.0:
        return Interval(math.nan, math.nan, math.nan)
    return fieller_ratio_interval(t.mean, t.var_of_mean, c.mean, c.var_of_mean, alpha,
                                  shift=-1.0)


def fieller_ratio_interval(numerator: float, var_numerator: float, denominator: float,
                           var_denominator: float, alpha: float = 0.05,
                           shift: float = 0.0) -> Interval:
    """Fieller interval for ``numerator / denominator`` (independent estimates) plus ``shift``.

    NaN bounds when the set of accepted ratios is not one bounded interval.
    """
    z2 = _z(alpha) ** 2
    a = denominator**2 - z2 * var_denominator
    estimate = numerator / denominator + shift
    if not a > 0.0:
        return Interval(estimate, math.nan, math.nan)
    b = numerator * denominator
    disc = b * b - a * (numerator**2 - z2 * var_numerator)
    root = math.sqrt(max(disc, 0.0))
    return Interval(estimate, (b - root) / a + shift, (b + root) / a + shift)
