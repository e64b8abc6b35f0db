"""Exposures + outcome events -> the analysed users and their per-user metric sums.

The unit is the exposed user. An event counts only from the user's first
exposure to the end of the window (the stop time, or now). Users exposed to
more than one variant are excluded (their outcome cannot be attributed to
either) and counted in ``excluded_multi_exposed``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import Engine

from pigen.service.experiments.metrics import UserTable
from pigen.service.experiments.store import (
    COVARIATES,
    ExperimentInfo,
    ExposureRow,
    PurchaseRow,
    load_exposures,
    load_outcome_events,
    load_pre_period,
    load_user_dimension,
)

#: The built-in breakdown: a shopper with an account or any activity before the start
#: is returning, anyone else is new.
NEW_VS_RETURNING = "new_vs_returning"


@dataclass(frozen=True, eq=False)
class Outcomes:
    """The analysed users and their events as aligned arrays (U users, E events)."""

    variants: tuple[str, ...]
    shares: tuple[float, ...]
    control: int  # index into variants
    user_ids: np.ndarray  # (U,) str
    arm: np.ndarray  # (U,) int, index into variants
    exposed_at: np.ndarray  # (U,) unix seconds of the first exposure
    purchase_user: np.ndarray  # (E,) int, index into user_ids
    purchase_value: np.ndarray  # (E,) float (0 for an add-to-cart)
    purchase_at: np.ndarray  # (E,) unix seconds
    excluded_multi_exposed: int
    start: float  # window start, unix seconds
    end: float  # window end, unix seconds
    is_cart: np.ndarray | None = None  # (E,) bool: an add-to-cart; None: all purchases
    # Pre-period covariates by name, each (U,); None when not loaded (no CUPED).
    covariates: dict[str, np.ndarray] | None = None
    # Breakdown dimensions by name, each (U,) str labels.
    segments: dict[str, np.ndarray] = field(default_factory=dict)

    def metric_values(self, until: float | None = None) -> tuple[np.ndarray, UserTable]:
        """``(mask of users exposed by until, per-user sums of events up to until)``."""
        until = self.end if until is None else until
        mask = self.exposed_at <= until
        counted = (self.purchase_at <= until) & (
            self.purchase_at >= self.exposed_at[self.purchase_user])
        carts = (self.is_cart if self.is_cart is not None
                 else np.zeros(self.purchase_user.size, dtype=bool))
        bought, carted = counted & ~carts, counted & carts
        n = len(self.user_ids)
        table = UserTable(
            purchases=np.bincount(self.purchase_user[bought], minlength=n),
            revenue=np.bincount(self.purchase_user[bought],
                                weights=self.purchase_value[bought], minlength=n),
            carts=np.bincount(self.purchase_user[carted], minlength=n),
            order_value=self.purchase_value[bought].astype(np.float64),
            order_user=self.purchase_user[bought].astype(np.int64))
        return mask, table


def build_outcomes(info: ExperimentInfo, exposures: Sequence[ExposureRow],
                   purchases: Sequence[PurchaseRow],
                   pre_period: dict[str, dict[str, float]] | None, as_of: datetime,
                   dimensions: dict[str, dict[str, str]] | None = None) -> Outcomes:
    """Pure part of :func:`collect_outcomes`: rows from the store -> :class:`Outcomes`."""
    names = tuple(v.name for v in info.variants)
    index = {name: k for k, name in enumerate(names)}
    seen: dict[str, set[str]] = {}
    first: dict[str, float] = {}
    for row in exposures:
        seen.setdefault(row.user_id, set()).add(row.variant)
        t = row.exposed_at.timestamp()
        first[row.user_id] = min(first.get(row.user_id, t), t)
    # Several variants, or one the design does not know: unattributable.
    single = sorted(u for u, vs in seen.items() if len(vs) == 1 and next(iter(vs)) in index)
    excluded = len(seen) - len(single)
    row_of = {u: k for k, u in enumerate(single)}
    kept = [p for p in purchases if p.user_id in row_of]
    covariates = None
    segments: dict[str, np.ndarray] = {}
    if pre_period is not None:
        covariates = {name: np.array([pre_period.get(u, {}).get(name, 0.0) for u in single],
                                     dtype=np.float64) for name in COVARIATES}
        returning = (covariates["known_user"] > 0) | (covariates["activity"] > 0)
        segments[NEW_VS_RETURNING] = np.where(returning, "returning", "new").astype(object)
    for name, values in (dimensions or {}).items():
        segments[name] = np.array([values.get(u, "unknown") for u in single], dtype=object)
    end = info.stopped_at or as_of
    start = info.started_at or info.created_at
    return Outcomes(
        variants=names, shares=info.design.shares, control=index[info.control],
        user_ids=np.array(single, dtype=object),
        arm=np.array([index[next(iter(seen[u]))] for u in single], dtype=np.int64),
        exposed_at=np.array([first[u] for u in single], dtype=np.float64),
        purchase_user=np.array([row_of[p.user_id] for p in kept], dtype=np.int64),
        purchase_value=np.array([p.value for p in kept], dtype=np.float64),
        purchase_at=np.array([p.occurred_at.timestamp() for p in kept], dtype=np.float64),
        is_cart=np.array([p.kind == "add_to_cart" for p in kept], dtype=bool),
        covariates=covariates, segments=segments, excluded_multi_exposed=excluded,
        start=start.timestamp(), end=min(end, as_of).timestamp(),
    )


def collect_outcomes(engine: Engine, info: ExperimentInfo, as_of: datetime | None = None,
                     dimension: str | None = None) -> Outcomes:
    """Read the experiment's exposures, outcome events and pre-period covariates.

    ``dimension`` names a ``users`` column to break results down by (the
    new-vs-returning breakdown is always there).
    """
    as_of = as_of or datetime.now(UTC)
    start = info.started_at or info.created_at
    end = min(info.stopped_at or as_of, as_of)
    exposures = load_exposures(engine, info.id)
    events = load_outcome_events(engine, info.id, since=min(start, info.created_at), until=end)
    pre = load_pre_period(engine, info.id, before=start)
    dimensions = None
    if dimension is not None and dimension != NEW_VS_RETURNING:
        dimensions = {dimension: load_user_dimension(engine, info.id, dimension)}
    return build_outcomes(info, exposures, events, pre, as_of, dimensions)
