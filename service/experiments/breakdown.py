"""Results by a dimension of the user: SRM per value, effects per value, heterogeneity.

Breakdowns are where false alarms breed: m values x (k - 1) variants are that
many more tests. So the per-value SRM check is Bonferroni-corrected over the
values, per-value effects carry adjusted p-values, and an effect is called
heterogeneous only when Cochran's Q across the values is significant after a
Bonferroni correction over the variants.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats as st

from pigen.service.experiments import stats
from pigen.service.experiments.comparison import wald
from pigen.service.experiments.metrics import Estimate, UserTable, arm_estimate
from pigen.service.experiments.multiple_testing import adjust

SRM_THRESHOLD = 0.001


@dataclass(frozen=True)
class SegmentEffect:
    variant: str
    control_mean: float
    variant_mean: float
    difference: float
    p_value: float
    adjusted_p_value: float  # corrected over values x variants


@dataclass(frozen=True)
class Segment:
    """One value of the dimension: its users per arm, its SRM check, its effects."""

    value: str
    users: tuple[int, ...]  # per variant
    srm_chi2: float
    srm_p_value: float
    srm_flagged: bool  # p < 0.001 / (number of values): Bonferroni over the values
    effects: tuple[SegmentEffect, ...]


@dataclass(frozen=True)
class Heterogeneity:
    """Whether one variant's effect differs between the dimension's values."""

    variant: str
    q: float  # Cochran's Q of the per-value differences
    df: int
    p_value: float
    adjusted_p_value: float  # Bonferroni over the variants
    heterogeneous: bool  # adjusted p < alpha


@dataclass(frozen=True)
class Breakdown:
    dimension: str
    metric: str
    srm_threshold: float  # the Bonferroni-corrected per-value threshold
    segments: tuple[Segment, ...]
    heterogeneity: tuple[Heterogeneity, ...]


def cochran_q(differences: np.ndarray, variances: np.ndarray) -> tuple[float, int, float]:
    """Cochran's Q test that independent estimates share one value -> ``(Q, df, p)``."""
    ok = np.isfinite(differences) & np.isfinite(variances) & (variances > 0)
    d, v = differences[ok], variances[ok]
    if d.size < 2:
        return (math.nan, 0, 1.0)
    w = 1.0 / v
    pooled = float((w * d).sum() / w.sum())
    q = float((w * (d - pooled) ** 2).sum())
    return (q, int(d.size - 1), float(st.chi2.sf(q, d.size - 1)))


def breakdown(dimension: str, labels: np.ndarray, arm: np.ndarray, table: UserTable,
              metric: str, variants: tuple[str, ...], shares: tuple[float, ...], control: int,
              alpha: float, correction: str) -> Breakdown:
    """``metric`` by each value of ``labels`` (aligned with ``arm`` and the table's rows)."""
    values = sorted({str(v) for v in labels})
    threshold = SRM_THRESHOLD / max(1, len(values))
    raw: list[tuple[str, tuple[int, ...], float, float, list[tuple[str, Estimate, Estimate]]]] = []
    for value in values:
        in_value = labels == value
        counts = np.bincount(arm[in_value], minlength=len(variants))
        chi2, p = stats.srm_test(counts, np.array(shares))
        rows_c = np.flatnonzero(in_value & (arm == control))
        pairs = []
        for j, name in enumerate(variants):
            if j == control:
                continue
            rows_t = np.flatnonzero(in_value & (arm == j))
            pairs.append((name, arm_estimate(metric, table, rows_c),
                          arm_estimate(metric, table, rows_t)))
        raw.append((value, tuple(int(c) for c in counts), chi2, p, pairs))
    p_values = np.array([wald(c, t)[1] for *_, pairs in raw for _, c, t in pairs])
    adjusted = iter(adjust(p_values, correction))
    segments = []
    for value, counts_t, chi2, p, pairs in raw:
        effects = tuple(SegmentEffect(name, c.value, t.value, t.value - c.value, wald(c, t)[1],
                                      float(next(adjusted))) for name, c, t in pairs)
        segments.append(Segment(value, counts_t, chi2, p, p < threshold, effects))
    tests = []
    others = [name for j, name in enumerate(variants) if j != control]
    for k, name in enumerate(others):
        diffs = np.array([t.value - c.value for *_, pairs in raw for _, c, t in [pairs[k]]])
        varis = np.array([c.var + t.var for *_, pairs in raw for _, c, t in [pairs[k]]])
        q, df, p = cochran_q(diffs, varis)
        p_adj = min(1.0, p * len(others))
        tests.append(Heterogeneity(name, q, df, p, p_adj, p_adj < alpha))
    return Breakdown(dimension, metric, threshold, tuple(segments), tuple(tests))
