"""CUPED with one covariate or many: per-user metric values with pre-experiment noise removed.

Single-covariate CUPED (Deng et al., 2013) subtracts ``theta (x - mean x)`` with
x the same metric before the experiment. The multi-covariate form (Eppo's
CUPED++) regresses the metric on the pre-period of *every* metric plus the
attributes known at assignment, and subtracts the fitted part. Both are fitted
on all arms pooled, and the covariates precede assignment, so the adjustment
cannot create a difference between arms; it only removes variance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Each mean metric's own pre-period covariate (single-covariate CUPED).
OWN_COVARIATE = {"conversion": "pre_conversion", "revenue_per_user": "pre_revenue",
                 "add_to_cart_rate": "pre_add_to_cart"}
#: A little ridge keeps the regression defined with collinear or constant covariates.
RIDGE = 1e-6


@dataclass(frozen=True)
class Adjusted:
    """A metric's adjusted per-user values and the share of variance removed."""

    values: np.ndarray  # (U,)
    variance_removed: float
    coefficients: dict[str, float]


def _variance_removed(y: np.ndarray, adjusted: np.ndarray) -> float:
    var_y = float(y.var(ddof=1)) if y.size > 1 else 0.0
    return 1.0 - float(adjusted.var(ddof=1)) / var_y if var_y > 0 else 0.0


def regress_out(y: np.ndarray, covariates: dict[str, np.ndarray]) -> Adjusted:
    """``y - (X - mean X) beta`` with beta from a (barely) ridge least squares of y on X.

    The mean of y is kept, so each arm's estimate moves only by its chance
    covariate imbalance.
    """
    names = [k for k, v in covariates.items() if v.size == y.size]
    if y.size < 3 or not names:
        return Adjusted(y, 0.0, {})
    x = np.column_stack([covariates[k] for k in names]).astype(np.float64)
    x -= x.mean(axis=0)
    scale = x.std(axis=0)
    keep = scale > 0
    if not keep.any():
        return Adjusted(y, 0.0, {})
    x, names = x[:, keep] / scale[keep], [n for n, k in zip(names, keep, strict=True) if k]
    centred = y - y.mean()
    gram = x.T @ x + RIDGE * y.size * np.eye(x.shape[1])
    beta = np.linalg.solve(gram, x.T @ centred)
    adjusted = y - x @ beta
    return Adjusted(adjusted, _variance_removed(y, adjusted),
                    {n: float(b / s) for n, b, s in zip(names, beta, scale[keep], strict=True)})


def single(metric: str, y: np.ndarray, covariates: dict[str, np.ndarray]) -> Adjusted:
    """Single-covariate CUPED on the metric's own pre-period (activity when it has none)."""
    name = OWN_COVARIATE.get(metric, "activity")
    if name not in covariates:
        name = "activity"
    if name not in covariates:
        return Adjusted(y, 0.0, {})
    return regress_out(y, {name: covariates[name]})


def multi(y: np.ndarray, covariates: dict[str, np.ndarray]) -> Adjusted:
    """CUPED on every covariate at once: every metric's pre-period plus assignment attributes."""
    return regress_out(y, covariates)
