"""The metrics an experiment can be judged on, defined from events, and their per-arm estimates.

Every metric is computed per exposed user from the purchases and add-to-carts
between the user's first exposure and the end of the window:

* ``conversion``: 1 if the user bought anything, else 0 (a mean over users);
* ``revenue_per_user``: the user's purchase total, 0 for non-buyers (a mean);
* ``add_to_cart_rate``: 1 if the user added anything to the cart (a mean);
* ``average_order_value``: revenue / orders over the arm's buyers, a *ratio*
  metric; its users are the unit, so the variance is the delta method's;
* ``p90_order_value``: the 90th percentile of order values, a *quantile*
  metric over orders clustered by user (Deng, Knoblich and Yu, 2018).

Each yields an :class:`Estimate` per arm: the value and the variance of that
value, which is all the comparisons need.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import stats as st

MetricKind = Literal["mean", "ratio", "quantile"]


@dataclass(frozen=True)
class MetricSpec:
    name: str
    kind: MetricKind
    label: str
    higher_is_better: bool = True


METRICS: dict[str, MetricSpec] = {m.name: m for m in (
    MetricSpec("conversion", "mean", "conversion"),
    MetricSpec("revenue_per_user", "mean", "revenue per user"),
    MetricSpec("add_to_cart_rate", "mean", "add-to-cart rate"),
    MetricSpec("average_order_value", "ratio", "average order value"),
    MetricSpec("p90_order_value", "quantile", "p90 order value"),
)}
QUANTILE = 0.9


@dataclass(frozen=True)
class Estimate:
    """One arm's value of a metric and its sampling variance (squared standard error)."""

    users: int
    value: float
    var: float


@dataclass(frozen=True)
class UserTable:
    """Per-user outcome sums of the analysed users (U users, E orders), aligned by row."""

    purchases: np.ndarray  # (U,) orders
    revenue: np.ndarray  # (U,) purchase total
    carts: np.ndarray  # (U,) add-to-cart events
    order_value: np.ndarray  # (E,) each order's value
    order_user: np.ndarray  # (E,) int, row of the order's user

    def per_user(self, metric: str) -> np.ndarray:
        """(U,) per-user values of a mean metric."""
        if metric == "conversion":
            return (self.purchases > 0).astype(np.float64)
        if metric == "revenue_per_user":
            return self.revenue.astype(np.float64)
        if metric == "add_to_cart_rate":
            return (self.carts > 0).astype(np.float64)
        raise ValueError(f"{metric} is not a per-user mean metric")


def mean_estimate(y: np.ndarray) -> Estimate:
    """Mean of per-user values, variance ``s**2 / n``."""
    n = int(y.size)
    if n == 0:
        return Estimate(0, math.nan, math.nan)
    var = float(y.var(ddof=1)) / n if n > 1 else math.nan
    return Estimate(n, float(y.mean()), var)


def ratio_estimate(numerator: np.ndarray, denominator: np.ndarray) -> Estimate:
    """``sum(num) / sum(den)`` over users, with the delta-method variance.

    Orders of one user are not independent, so the naive per-order variance is too
    small; with the user as the unit, to first order::

        Var(R) = (s_y^2 / xbar^2 - 2 ybar s_xy / xbar^3 + ybar^2 s_x^2 / xbar^4) / n
    """
    n = int(numerator.size)
    xbar = float(denominator.mean()) if n else 0.0
    if n < 2 or xbar == 0.0:
        return Estimate(n, math.nan, math.nan)
    ybar = float(numerator.mean())
    cov = np.cov(numerator, denominator, ddof=1)
    var = (cov[0, 0] / xbar**2 - 2.0 * ybar * cov[0, 1] / xbar**3
           + ybar**2 * cov[1, 1] / xbar**4) / n
    return Estimate(n, ybar / xbar, max(0.0, float(var)))  # rounding can dip below 0


def quantile_estimate(values: np.ndarray, owner: np.ndarray, users: int,
                      q: float = QUANTILE) -> Estimate:
    """The ``q`` quantile of order values and its variance, orders clustered by user.

    Deng, Knoblich and Yu (2018): the share of orders at or below the sample
    quantile is a ratio metric (per user: orders <= q-hat / orders), so its
    delta-method standard error sigma gives the ranks ``N (q -+ z sigma)`` whose
    order statistics bound the quantile; their spread / 2z is its standard error.
    ``owner`` is each order's user row (0..users-1).
    """
    total = int(values.size)
    if total < 2 or users < 2:
        return Estimate(users, math.nan, math.nan)
    ordered = np.sort(values)
    estimate = float(ordered[min(total - 1, max(0, math.ceil(total * q) - 1))])
    below = np.bincount(owner, weights=(values <= estimate).astype(np.float64),
                        minlength=users)
    orders = np.bincount(owner, minlength=users).astype(np.float64)
    share = ratio_estimate(below, orders)
    if not math.isfinite(share.var):
        return Estimate(users, estimate, math.nan)
    z = float(st.norm.ppf(0.975))
    sigma = math.sqrt(max(share.var, 0.0))
    low = min(total - 1, max(0, math.ceil(total * (q - z * sigma)) - 1))
    high = min(total - 1, max(0, math.ceil(total * (q + z * sigma)) - 1))
    se = (float(ordered[high]) - float(ordered[low])) / (2.0 * z)
    return Estimate(users, estimate, se * se)


def arm_estimate(metric: str, table: UserTable, rows: np.ndarray,
                 adjusted: np.ndarray | None = None) -> Estimate:
    """``metric`` over the users at ``rows`` (indices into the table).

    ``adjusted`` replaces a mean metric's per-user values (CUPED); ratio and
    quantile metrics are not adjusted.
    """
    kind = METRICS[metric].kind
    if kind == "mean":
        values = adjusted if adjusted is not None else table.per_user(metric)
        return mean_estimate(values[rows])
    if kind == "ratio":
        return ratio_estimate(table.revenue[rows].astype(np.float64),
                              table.purchases[rows].astype(np.float64))
    position = np.full(table.purchases.size, -1, dtype=np.int64)
    position[rows] = np.arange(rows.size)
    mine = position[table.order_user] >= 0
    return quantile_estimate(table.order_value[mine], position[table.order_user[mine]],
                             int(rows.size))
