"""One variant against control on one metric: the test, its intervals, and what they mean.

Every fixed-horizon number comes from one unpooled Wald test of the difference
of the two arms' estimates: the p-value, the difference interval (its inversion)
and the lift interval (Fieller's inversion for the ratio), so an interval
excludes 0 exactly when its p-value is below alpha. Corrected intervals are the
same intervals at the level that agrees with the corrected p-value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

from scipy import stats as st

from pigen.service.experiments import stats
from pigen.service.experiments.metrics import METRICS, Estimate
from pigen.service.experiments.multiple_testing import interval_alpha
from pigen.service.experiments.stats import Interval

Verdict = Literal["better", "worse", "neutral", "inconclusive"]


@dataclass(frozen=True)
class Comparison:
    """One variant against control on one metric."""

    metric: str
    role: str  # primary, secondary or guardrail
    variant: str
    control_mean: float
    variant_mean: float
    control_var: float  # sampling variance of control's estimate
    variant_var: float
    difference: Interval  # absolute, fixed horizon, uncorrected
    lift: Interval  # relative, Fieller, uncorrected (NaN bounds: undefined)
    z: float
    p_value: float  # two-sided unpooled Wald test; both intervals exclude 0 iff p < alpha
    adjusted_p_value: float  # after the correction of its family (= p for guardrails)
    corrected_difference: Interval  # at the level that agrees with adjusted_p_value
    corrected_lift: Interval
    prob_beat_control: float
    sequential_difference: Interval  # always-valid (mSPRT) interval
    sequential_lift: Interval  # the same divided by control's mean
    sequential_p_value: float
    significant: bool  # adjusted p < alpha (valid at the planned sample size)
    sequential_significant: bool  # valid at any look
    verdict: Verdict  # better / worse (significant), neutral, inconclusive
    cuped: bool  # the estimates were CUPED-adjusted


def relative(interval: Interval, control_mean: float) -> Interval:
    """An absolute-difference interval on the lift scale (control's mean taken as known)."""
    if not control_mean or not math.isfinite(control_mean):
        return Interval(math.nan, math.nan, math.nan)
    return Interval(interval.estimate / control_mean, interval.low / control_mean,
                    interval.high / control_mean)


def wald(c: Estimate, t: Estimate) -> tuple[float, float]:
    """``(z, two-sided p)`` of the difference ``t - c`` with unpooled variances."""
    var = c.var + t.var
    se = math.sqrt(var) if math.isfinite(var) and var > 0.0 else math.nan
    if not se > 0.0:
        return (math.nan, 1.0)
    z = (t.value - c.value) / se
    return (z, float(2.0 * st.norm.sf(abs(z))))


def intervals(c: Estimate, t: Estimate, alpha: float) -> tuple[Interval, Interval]:
    """(difference, lift) intervals at level ``1 - alpha``, both inversions of :func:`wald`."""
    diff = t.value - c.value
    var = c.var + t.var
    if not (math.isfinite(var) and var > 0.0):
        return Interval(diff, math.nan, math.nan), Interval(math.nan, math.nan, math.nan)
    half = float(st.norm.ppf(1.0 - alpha / 2.0)) * math.sqrt(var)
    if c.value == 0.0 or not math.isfinite(c.value):
        lift = Interval(math.nan, math.nan, math.nan)
    else:
        lift = stats.fieller_ratio_interval(t.value, t.var, c.value, c.var, alpha, shift=-1.0)
    return Interval(diff, diff - half, diff + half), lift


def compare(metric: str, role: str, variant: str, c: Estimate, t: Estimate, alpha: float,
            tau_relative: float, conversions: tuple[int, int] | None = None,
            cuped: bool = False) -> Comparison:
    """The uncorrected comparison (``adjusted_p_value = p``); see :func:`corrected`.

    ``conversions`` (control, variant) gives the Beta posterior's P(beat control)
    for an unadjusted conversion; otherwise the normal approximation is used.
    """
    z, p = wald(c, t)
    difference, lift = intervals(c, t, alpha)
    var = c.var + t.var
    tau = stats.msprt_tau((c.value * c.users + t.value * t.users)
                          / max(1, c.users + t.users), tau_relative)
    if conversions is not None and c.users and t.users:
        beat = stats.prob_beat_control_beta(conversions[0], c.users, conversions[1], t.users)
    elif math.isfinite(z):
        beat = float(st.norm.cdf(z))
    else:
        beat = 0.5
    ok = math.isfinite(difference.estimate) and math.isfinite(var)
    seq = stats.msprt_ci(difference.estimate, var, tau, alpha) if ok else Interval(
        difference.estimate, math.nan, math.nan)
    seq_p = stats.msprt_p_value(difference.estimate, var, tau) if ok else 1.0
    base = Comparison(
        metric=metric, role=role, variant=variant, control_mean=c.value, variant_mean=t.value,
        control_var=c.var, variant_var=t.var, difference=difference, lift=lift, z=z,
        p_value=p, adjusted_p_value=p, corrected_difference=difference, corrected_lift=lift,
        prob_beat_control=beat, sequential_difference=seq,
        sequential_lift=relative(seq, c.value), sequential_p_value=seq_p,
        significant=p < alpha, sequential_significant=seq.excludes_zero,
        verdict="inconclusive", cuped=cuped)
    return replace(base, verdict=verdict_of(base, alpha, 0.0))


def corrected(comparison: Comparison, adjusted_p: float, alpha: float,
              minimum_effect: float) -> Comparison:
    """``comparison`` with its family's adjusted p, the agreeing intervals and its verdict."""
    level = interval_alpha(comparison.p_value, adjusted_p, alpha)
    c = Estimate(0, comparison.control_mean, comparison.control_var)
    t = Estimate(0, comparison.variant_mean, comparison.variant_var)
    difference, lift = intervals(c, t, level)
    out = replace(comparison, adjusted_p_value=adjusted_p, corrected_difference=difference,
                  corrected_lift=lift, significant=adjusted_p < alpha)
    return replace(out, verdict=verdict_of(out, alpha, minimum_effect))


def verdict_of(c: Comparison, alpha: float, minimum_effect: float) -> Verdict:
    """better/worse when significant after correction (by the metric's good direction);
    neutral when the corrected lift interval lies inside +-minimum_effect; else inconclusive."""
    if c.adjusted_p_value < alpha and math.isfinite(c.difference.estimate):
        up = c.difference.estimate > 0
        return "better" if up == METRICS[c.metric].higher_is_better else "worse"
    low, high = c.corrected_lift.low, c.corrected_lift.high
    if math.isfinite(low) and math.isfinite(high) and -minimum_effect < low and (
            high < minimum_effect):
        return "neutral"
    return "inconclusive"
