"""Exposures + purchases -> per-variant results, comparisons and the lift over time.

The unit is the exposed user. Per user, two metrics, both counted only from the
user's first exposure to the end of the window (the stop time, or now):

* ``conversion``: 1 if the user made any purchase, else 0;
* ``revenue_per_user``: the sum of the user's purchase values (0 for non-buyers,
  so the mean is over every exposed user, not over buyers).

Users exposed to more than one variant are excluded (their outcome cannot be
attributed to either) and counted in ``excluded_multi_exposed``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import Engine

from pigen.service.experiments import stats
from pigen.service.experiments.stats import Interval, SampleStats
from pigen.service.experiments.store import (
    ExperimentInfo,
    ExposureRow,
    PurchaseRow,
    load_exposures,
    load_pre_activity,
    load_purchases,
)

METRICS = ("conversion", "revenue_per_user")
DAY = 86_400.0


@dataclass(frozen=True, eq=False)
class Outcomes:
    """The analysed users and their purchases as aligned arrays (U users, E purchases)."""

    variants: tuple[str, ...]
    shares: tuple[float, ...]
    control: int  # index into variants
    user_ids: np.ndarray  # (U,) str
    arm: np.ndarray  # (U,) int, index into variants
    exposed_at: np.ndarray  # (U,) unix seconds of the first exposure
    purchase_user: np.ndarray  # (E,) int, index into user_ids
    purchase_value: np.ndarray  # (E,) float
    purchase_at: np.ndarray  # (E,) unix seconds
    pre_activity: np.ndarray | None  # (U,) CUPED covariate, None when not loaded
    excluded_multi_exposed: int
    start: float  # window start, unix seconds
    end: float  # window end, unix seconds

    def metric_values(self, until: float | None = None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """``(mask of users exposed by until, {metric: (U,) per-user values up to until})``."""
        until = self.end if until is None else until
        mask = self.exposed_at <= until
        counted = (self.purchase_at <= until) & (self.purchase_at >= self.exposed_at[
            self.purchase_user])
        n = len(self.user_ids)
        purchases = np.bincount(self.purchase_user[counted], minlength=n)
        revenue = np.bincount(self.purchase_user[counted],
                              weights=self.purchase_value[counted], minlength=n)
        return mask, {"conversion": (purchases > 0).astype(np.float64), "revenue_per_user": revenue}


def build_outcomes(info: ExperimentInfo, exposures: Sequence[ExposureRow],
                   purchases: Sequence[PurchaseRow], pre_activity: dict[str, float] | None,
                   as_of: datetime) -> Outcomes:
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
    user_ids = np.array(single, dtype=object)
    row_of = {u: k for k, u in enumerate(single)}
    arm = np.array([index[next(iter(seen[u]))] for u in single], dtype=np.int64)
    exposed_at = np.array([first[u] for u in single], dtype=np.float64)
    kept = [p for p in purchases if p.user_id in row_of]
    pre = None
    if pre_activity is not None:
        pre = np.array([pre_activity.get(u, 0.0) for u in single], dtype=np.float64)
    end = info.stopped_at or as_of
    start = info.started_at or info.created_at
    return Outcomes(
        variants=names, shares=info.design.shares, control=index[info.control],
        user_ids=user_ids, arm=arm, exposed_at=exposed_at,
        purchase_user=np.array([row_of[p.user_id] for p in kept], dtype=np.int64),
        purchase_value=np.array([p.value for p in kept], dtype=np.float64),
        purchase_at=np.array([p.occurred_at.timestamp() for p in kept], dtype=np.float64),
        pre_activity=pre, excluded_multi_exposed=excluded,
        start=start.timestamp(), end=min(end, as_of).timestamp(),
    )


def collect_outcomes(engine: Engine, info: ExperimentInfo, as_of: datetime | None = None,
                     cuped: bool = False) -> Outcomes:
    """Read the experiment's exposures and purchases (and pre-period activity for CUPED)."""
    as_of = as_of or datetime.now(UTC)
    start = info.started_at or info.created_at
    end = min(info.stopped_at or as_of, as_of)
    exposures = load_exposures(engine, info.id)
    purchases = load_purchases(engine, info.id, since=min(start, info.created_at), until=end)
    pre = load_pre_activity(engine, info.id, before=start) if cuped else None
    return build_outcomes(info, exposures, purchases, pre, as_of)


@dataclass(frozen=True)
class ArmSummary:
    name: str
    share: float  # configured share of traffic
    users: int  # analysed (single-variant) exposed users
    conversions: int
    conversion_rate: float
    revenue: float
    revenue_per_user: float


@dataclass(frozen=True)
class Comparison:
    """One variant against control on one metric."""

    metric: str
    variant: str
    control_mean: float
    variant_mean: float
    difference: Interval  # absolute, fixed-horizon (Welch) interval
    lift: Interval  # relative, Fieller interval of the same test (NaN bounds: undefined)
    z: float
    p_value: float  # two-sided unpooled Wald test; both intervals exclude 0 iff p < alpha
    prob_beat_control: float
    sequential_difference: Interval  # always-valid (mSPRT) interval
    sequential_lift: Interval  # the same divided by control's mean
    sequential_p_value: float
    significant: bool  # p < alpha (valid only at the planned sample size)
    sequential_significant: bool  # valid at any look


@dataclass(frozen=True)
class SRMCheck:
    observed: tuple[int, ...]
    expected: tuple[float, ...]
    chi2: float
    p_value: float
    flagged: bool  # p < 0.001: the split is broken; distrust every other number


@dataclass(frozen=True)
class ExperimentResults:
    key: str
    status: str
    control: str
    as_of: datetime
    alpha: float
    tau_relative: float
    cuped: bool
    arms: tuple[ArmSummary, ...]
    comparisons: tuple[Comparison, ...]
    srm: SRMCheck
    excluded_multi_exposed: int
    # Per metric: pooled CUPED theta and the share of variance removed (empty without CUPED).
    cuped_theta: dict[str, float]
    cuped_variance_reduction: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: NaN and infinities become None (JSON has no such numbers)."""
        out = json_ready(asdict(self))
        out["as_of"] = self.as_of.isoformat()
        return out


def json_ready(value: Any) -> Any:
    """``value`` with NaN/inf floats as None and numpy scalars as Python ones."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if isinstance(value, np.generic):
        return json_ready(value.item())
    return value


SRM_THRESHOLD = 0.001


def analyse(outcomes: Outcomes, key: str = "", status: str = "", alpha: float = 0.05,
            cuped: bool = False, tau_relative: float = stats.DEFAULT_TAU_RELATIVE,
            until: float | None = None) -> ExperimentResults:
    """Per-arm summaries, every variant against control on both metrics, and the SRM check."""
    mask, values = outcomes.metric_values(until)
    arm = outcomes.arm[mask]
    k = len(outcomes.variants)
    counts = np.bincount(arm, minlength=k)
    arms = []
    for j, name in enumerate(outcomes.variants):
        conv, rev = values["conversion"][mask][arm == j], values["revenue_per_user"][mask][arm == j]
        n = int(counts[j])
        arms.append(ArmSummary(
            name=name, share=outcomes.shares[j], users=n, conversions=int(conv.sum()),
            conversion_rate=float(conv.mean()) if n else math.nan, revenue=float(rev.sum()),
            revenue_per_user=float(rev.mean()) if n else math.nan))
    thetas: dict[str, float] = {}
    reductions: dict[str, float] = {}
    comparisons = []
    for metric in METRICS:
        y = values[metric][mask]
        if cuped and outcomes.pre_activity is not None and y.size > 1:
            x = outcomes.pre_activity[mask]
            thetas[metric] = stats.cuped_theta(y, x)
            adjusted = stats.cuped_adjust(y, x, thetas[metric])
            var_y = float(y.var(ddof=1))
            reductions[metric] = 1.0 - float(adjusted.var(ddof=1)) / var_y if var_y else 0.0
            y = adjusted
        tau = stats.msprt_tau(float(values[metric][mask].mean()) if y.size else 0.0,
                              tau_relative)
        control = outcomes.control
        for j, name in enumerate(outcomes.variants):
            if j == control:
                continue
            comparisons.append(_compare(metric, name, y[arm == control], y[arm == j],
                                        binary=metric == "conversion" and metric not in thetas,
                                        alpha=alpha, tau=tau))
    chi2, p = stats.srm_test(counts, np.array(outcomes.shares))
    total = counts.sum()
    srm = SRMCheck(observed=tuple(int(c) for c in counts),
                   expected=tuple(float(total * s) for s in outcomes.shares),
                   chi2=chi2, p_value=p, flagged=p < SRM_THRESHOLD)
    as_of = datetime.fromtimestamp(outcomes.end if until is None else until, UTC)
    return ExperimentResults(
        key=key, status=status, control=outcomes.variants[outcomes.control], as_of=as_of,
        alpha=alpha, tau_relative=tau_relative, cuped=bool(thetas), arms=tuple(arms),
        comparisons=tuple(comparisons), srm=srm,
        excluded_multi_exposed=outcomes.excluded_multi_exposed,
        cuped_theta=thetas, cuped_variance_reduction=reductions)


def _compare(metric: str, name: str, yc: np.ndarray, yt: np.ndarray, binary: bool,
             alpha: float, tau: float) -> Comparison:
    c, t = SampleStats.of(yc), SampleStats.of(yt)
    # One test behind every fixed-horizon number shown together: the unpooled Wald test,
    # whose inversion gives the difference interval and the (Fieller) lift interval.
    z, p = stats.z_test_means(c, t)
    if binary:
        beat = stats.prob_beat_control_beta(int(yc.sum()), c.n, int(yt.sum()), t.n)
    else:
        beat = stats.prob_beat_control_normal(c, t)
    diff = stats.difference(c, t, alpha)
    var_diff = t.var_of_mean + c.var_of_mean
    seq = stats.msprt_ci(diff.estimate, var_diff, tau, alpha)
    seq_lift = _relative(seq, c.mean)
    seq_p = stats.msprt_p_value(diff.estimate, var_diff, tau)
    return Comparison(
        metric=metric, variant=name, control_mean=c.mean, variant_mean=t.mean,
        difference=diff, lift=stats.fieller_lift(c, t, alpha), z=z, p_value=p,
        prob_beat_control=beat, sequential_difference=seq, sequential_lift=seq_lift,
        sequential_p_value=seq_p, significant=bool(p < alpha),
        sequential_significant=seq.excludes_zero)


def _relative(interval: Interval, control_mean: float) -> Interval:
    """An absolute-difference interval on the lift scale (control's mean taken as known)."""
    if not control_mean or not math.isfinite(control_mean):
        return Interval(math.nan, math.nan, math.nan)
    return Interval(interval.estimate / control_mean, interval.low / control_mean,
                    interval.high / control_mean)


@dataclass(frozen=True)
class TimelinePoint:
    """Cumulative results of one variant vs control at the end of one day."""

    day: int  # 1 = first day of the experiment
    at: float  # unix seconds of the look
    variant: str
    users: int
    lift: Interval  # Fieller, fixed horizon (not valid under peeking)
    sequential_lift: Interval  # always valid; running intersection over the looks so far
    sequential_p_value: float  # running minimum over the looks so far

    def to_dict(self) -> dict[str, Any]:
        return json_ready(asdict(self))


def timeline(outcomes: Outcomes, metric: str = "conversion", alpha: float = 0.05,
             tau_relative: float = stats.DEFAULT_TAU_RELATIVE,
             step: float = DAY) -> list[TimelinePoint]:
    """Daily cumulative looks from the start to the end of the window.

    The always-valid interval of each look is intersected with those before it
    (still valid: all hold at once with probability 1 - alpha), and the
    sequential p-value is the running minimum, so neither ever widens.
    """
    n_looks = max(1, math.ceil((outcomes.end - outcomes.start) / step))
    points: list[TimelinePoint] = []
    running: dict[str, tuple[float, float, float]] = {}
    for day in range(1, n_looks + 1):
        at = min(outcomes.start + day * step, outcomes.end)
        mask, values = outcomes.metric_values(at)
        y, arm = values[metric][mask], outcomes.arm[mask]
        if y.size == 0:
            continue
        tau = stats.msprt_tau(float(y.mean()), tau_relative)
        yc = y[arm == outcomes.control]
        c = SampleStats.of(yc)
        for j, name in enumerate(outcomes.variants):
            if j == outcomes.control:
                continue
            t = SampleStats.of(y[arm == j])
            diff = t.mean - c.mean if c.n and t.n else math.nan
            var_diff = t.var_of_mean + c.var_of_mean
            seq = stats.msprt_ci(diff, var_diff, tau, alpha)
            p = stats.msprt_p_value(diff, var_diff, tau)
            low, high, p_min = running.get(name, (-math.inf, math.inf, 1.0))
            low, high, p_min = max(low, seq.low), min(high, seq.high), min(p_min, p)
            running[name] = (low, high, p_min)
            points.append(TimelinePoint(
                day=day, at=at, variant=name, users=int(c.n + t.n),
                lift=stats.fieller_lift(c, t, alpha),
                sequential_lift=_relative(Interval(diff, low, high), c.mean),
                sequential_p_value=p_min))
    return points


@dataclass(frozen=True, eq=False)
class Report:
    """Everything the CLI, the API and the admin page show for one experiment."""

    info: ExperimentInfo
    results: ExperimentResults
    timeline: list[TimelinePoint]


def report_for(engine: Engine, key: str, cuped: bool = False, alpha: float = 0.05,
               as_of: datetime | None = None) -> Report:
    """Load and analyse experiment ``key`` (:class:`UnknownExperiment` when there is none)."""
    from pigen.service.experiments.store import get_experiment

    info = get_experiment(engine, key)
    outcomes = collect_outcomes(engine, info, as_of=as_of, cuped=cuped)
    results = analyse(outcomes, key=info.key, status=info.status, alpha=alpha, cuped=cuped)
    return Report(info=info, results=results, timeline=timeline(outcomes, alpha=alpha))
