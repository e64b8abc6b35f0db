"""Adjusted p-values for a family of tests, and the interval level that agrees with them.

Ten metrics and three variants are thirty chances for noise to look like a win;
at alpha = 5% naive testing finds at least one in most A/A tests. Holm controls
the family-wise error (the chance of any false win), Benjamini-Hochberg the
false discovery rate (the expected share of false wins among the wins).
"""

from __future__ import annotations

import numpy as np


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values (``statsmodels`` ``multipletests(method="holm")``)."""
    p = np.asarray(p_values, dtype=np.float64)
    m = p.size
    if m == 0:
        return p.copy()
    order = np.argsort(p, kind="stable")
    scaled = (m - np.arange(m)) * p[order]
    adjusted = np.minimum(1.0, np.maximum.accumulate(scaled))
    out = np.empty(m)
    out[order] = adjusted
    return out


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg step-up adjusted p-values (``multipletests(method="fdr_bh")``)."""
    p = np.asarray(p_values, dtype=np.float64)
    m = p.size
    if m == 0:
        return p.copy()
    order = np.argsort(p, kind="stable")
    scaled = p[order] * m / np.arange(1, m + 1)
    adjusted = np.minimum(1.0, np.minimum.accumulate(scaled[::-1])[::-1])
    out = np.empty(m)
    out[order] = adjusted
    return out


def adjust(p_values: np.ndarray, method: str) -> np.ndarray:
    """Adjusted p-values by ``method``: ``holm``, ``bh`` or ``none``."""
    if method == "holm":
        return holm(p_values)
    if method == "bh":
        return benjamini_hochberg(p_values)
    if method == "none":
        return np.asarray(p_values, dtype=np.float64).copy()
    raise ValueError(f"correction must be holm, bh or none, got {method!r}")


def interval_alpha(p_value: float, adjusted_p: float, alpha: float) -> float:
    """The level for a test's corrected interval: ``alpha * p / p_adjusted``.

    The interval at this level excludes 0 exactly when the adjusted p-value is
    below alpha, so the corrected interval and the corrected decision agree (the
    approach GrowthBook takes). For Bonferroni it is ``alpha / m``.
    """
    if not (adjusted_p > 0.0) or not np.isfinite(p_value):
        return alpha
    return float(min(alpha, alpha * p_value / adjusted_p))
