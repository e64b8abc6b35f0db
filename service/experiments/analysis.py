"""Outcomes -> the experiment's results: every planned metric, corrected, with a decision.

The plan (:class:`~.plan.AnalysisPlan`) names the metrics and their roles:

* the **primary** metric is corrected only across variants (its own family), so
  reporting more secondary metrics never costs it power;
* **secondary** metrics are corrected together across metrics x variants (Holm
  or Benjamini-Hochberg);
* **guardrails** are tested uncorrected, to catch harm as early as possible: one
  significantly worse marks the variant "do not ship", whatever the primary says.

A result is "neutral" when its corrected lift interval lies within +-the plan's
minimum effect: the test rules out any effect worth having, not only "not
significant". CUPED (one covariate or many) adjusts the per-user mean metrics.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np
from sqlalchemy import Engine

from pigen.service.experiments import cuped as cuped_module
from pigen.service.experiments import stats
from pigen.service.experiments.breakdown import Breakdown, breakdown
from pigen.service.experiments.comparison import Comparison, compare, corrected, relative
from pigen.service.experiments.metrics import METRICS, UserTable, arm_estimate
from pigen.service.experiments.multiple_testing import adjust
from pigen.service.experiments.outcomes import (
    NEW_VS_RETURNING,
    Outcomes,
    build_outcomes,
    collect_outcomes,
)
from pigen.service.experiments.plan import AnalysisPlan
from pigen.service.experiments.stats import Interval
from pigen.service.experiments.store import ExperimentInfo, UnknownDimension

__all__ = ["Outcomes", "build_outcomes", "collect_outcomes", "analyse", "timeline",
           "report_for", "ExperimentResults", "Comparison"]

DAY = 86_400.0
SRM_THRESHOLD = 0.001
CupedMethod = Literal["none", "single", "multi"]


@dataclass(frozen=True)
class ArmSummary:
    name: str
    share: float  # configured share of traffic
    users: int  # analysed (single-variant) exposed users
    conversions: int
    conversion_rate: float
    revenue: float
    revenue_per_user: float
    orders: int
    add_to_cart_rate: float


@dataclass(frozen=True)
class SRMCheck:
    observed: tuple[int, ...]
    expected: tuple[float, ...]
    chi2: float
    p_value: float
    flagged: bool  # p < 0.001: the split is broken; distrust every other number


@dataclass(frozen=True)
class Decision:
    """What the numbers say about shipping one variant, and why."""

    variant: str
    decision: Literal["ship", "do not ship", "neutral", "keep running", "invalid"]
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class CupedReport:
    """Variance removed per metric by each CUPED form, computed in the same run."""

    method: str  # the one the comparisons use: none, single or multi
    single: dict[str, float]  # metric -> share of variance removed, own pre-period only
    multi: dict[str, float]  # metric -> share removed, every covariate
    coefficients: dict[str, dict[str, float]]  # metric -> covariate -> coefficient (multi)


@dataclass(frozen=True)
class ExperimentResults:
    key: str
    status: str
    control: str
    as_of: datetime
    alpha: float
    tau_relative: float
    plan: dict[str, Any]
    arms: tuple[ArmSummary, ...]
    comparisons: tuple[Comparison, ...]
    decisions: tuple[Decision, ...]
    srm: SRMCheck
    excluded_multi_exposed: int
    cuped: CupedReport
    breakdown: Breakdown | None

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


def _arms(outcomes: Outcomes, table: UserTable, mask: np.ndarray) -> tuple[ArmSummary, ...]:
    arm = outcomes.arm[mask]
    out = []
    for j, name in enumerate(outcomes.variants):
        rows = np.flatnonzero(mask)[arm == j]
        n = int(rows.size)
        bought = table.purchases[rows] > 0
        out.append(ArmSummary(
            name=name, share=outcomes.shares[j], users=n, conversions=int(bought.sum()),
            conversion_rate=float(bought.mean()) if n else math.nan,
            revenue=float(table.revenue[rows].sum()),
            revenue_per_user=float(table.revenue[rows].mean()) if n else math.nan,
            orders=int(table.purchases[rows].sum()),
            add_to_cart_rate=float((table.carts[rows] > 0).mean()) if n else math.nan))
    return tuple(out)


def _adjusted_values(outcomes: Outcomes, table: UserTable, mask: np.ndarray,
                     method: CupedMethod) -> tuple[dict[str, np.ndarray], CupedReport]:
    """Per mean metric, the values the comparisons use (CUPED-adjusted when asked)."""
    adjusted: dict[str, np.ndarray] = {}
    single: dict[str, float] = {}
    multi: dict[str, float] = {}
    coefficients: dict[str, dict[str, float]] = {}
    covariates = ({k: v[mask] for k, v in outcomes.covariates.items()}
                  if outcomes.covariates is not None else None)
    for metric, spec in METRICS.items():
        if spec.kind != "mean":
            continue
        y = table.per_user(metric)[mask]
        if covariates is None or method == "none" or y.size < 3:
            adjusted[metric] = y
            continue
        one, many = cuped_module.single(metric, y, covariates), cuped_module.multi(y, covariates)
        single[metric], multi[metric] = one.variance_removed, many.variance_removed
        coefficients[metric] = many.coefficients
        adjusted[metric] = (one if method == "single" else many).values
    used = method if covariates is not None else "none"
    return adjusted, CupedReport(used, single, multi, coefficients)


def analyse(outcomes: Outcomes, key: str = "", status: str = "", alpha: float = 0.05,
            cuped: CupedMethod | bool = "none", tau_relative: float = stats.DEFAULT_TAU_RELATIVE,
            until: float | None = None, plan: AnalysisPlan | None = None,
            dimension: str | None = None) -> ExperimentResults:
    """Per-arm summaries, every planned metric x variant with its family's correction,
    a decision per variant, the SRM check, and the breakdown by ``dimension``."""
    plan = plan or AnalysisPlan()
    method: CupedMethod = ("multi" if cuped is True else "none" if cuped is False else cuped)
    mask, table = outcomes.metric_values(until)
    arm = outcomes.arm[mask]
    rows = np.flatnonzero(mask)
    adjusted, cuped_report = _adjusted_values(outcomes, table, mask, method)
    full = {m: np.zeros(len(outcomes.user_ids)) for m in adjusted}
    for m, values in adjusted.items():
        full[m][rows] = values
    control = outcomes.control
    rows_c = rows[arm == control]
    raw: list[Comparison] = []
    for metric, role in plan.roles():
        is_adjusted = METRICS[metric].kind == "mean" and cuped_report.method != "none"
        c = arm_estimate(metric, table, rows_c, full.get(metric))
        for j, name in enumerate(outcomes.variants):
            if j == control:
                continue
            rows_t = rows[arm == j]
            t = arm_estimate(metric, table, rows_t, full.get(metric))
            conversions = None
            if metric == "conversion" and not is_adjusted:
                conversions = (int((table.purchases[rows_c] > 0).sum()),
                               int((table.purchases[rows_t] > 0).sum()))
            raw.append(compare(metric, role, name, c, t, alpha, tau_relative, conversions,
                               cuped=is_adjusted))
    comparisons = _correct(raw, plan, alpha)
    counts = np.bincount(arm, minlength=len(outcomes.variants))
    chi2, p = stats.srm_test(counts, np.array(outcomes.shares))
    total = counts.sum()
    srm = SRMCheck(observed=tuple(int(c) for c in counts),
                   expected=tuple(float(total * s) for s in outcomes.shares),
                   chi2=chi2, p_value=p, flagged=p < SRM_THRESHOLD)
    split = None
    if dimension is not None:
        if dimension not in outcomes.segments:
            raise UnknownDimension(f"no breakdown {dimension!r}; available: "
                             f"{', '.join(outcomes.segments) or 'none'}")
        split = breakdown(dimension, outcomes.segments[dimension][mask], arm,
                          _subset(table, rows), plan.primary, outcomes.variants,
                          outcomes.shares, control, alpha, plan.correction)
    as_of = datetime.fromtimestamp(outcomes.end if until is None else until, UTC)
    return ExperimentResults(
        key=key, status=status, control=outcomes.variants[control], as_of=as_of, alpha=alpha,
        tau_relative=tau_relative, plan=plan.to_dict(), arms=_arms(outcomes, table, mask),
        comparisons=comparisons, decisions=_decide(comparisons, outcomes, srm, plan),
        srm=srm, excluded_multi_exposed=outcomes.excluded_multi_exposed, cuped=cuped_report,
        breakdown=split)


def _subset(table: UserTable, rows: np.ndarray) -> UserTable:
    """The table restricted to ``rows``, renumbered 0..len(rows)-1."""
    position = np.full(table.purchases.size, -1, dtype=np.int64)
    position[rows] = np.arange(rows.size)
    mine = position[table.order_user] >= 0
    return UserTable(table.purchases[rows], table.revenue[rows], table.carts[rows],
                     table.order_value[mine], position[table.order_user[mine]])


def _correct(raw: list[Comparison], plan: AnalysisPlan, alpha: float) -> tuple[Comparison, ...]:
    """Each family's adjusted p-values: primary (across variants), secondary (metrics x
    variants); guardrails stay uncorrected."""
    out = list(raw)
    for role in ("primary", "secondary", "guardrail"):
        members = [k for k, c in enumerate(raw) if c.role == role]
        if not members:
            continue
        p = np.array([raw[k].p_value for k in members])
        method = plan.correction if role != "guardrail" else "none"
        for k, p_adj in zip(members, adjust(p, method), strict=True):
            out[k] = corrected(raw[k], float(p_adj), alpha, plan.minimum_effect)
    return tuple(out)


def _decide(comparisons: tuple[Comparison, ...], outcomes: Outcomes, srm: SRMCheck,
            plan: AnalysisPlan) -> tuple[Decision, ...]:
    decisions = []
    for j, name in enumerate(outcomes.variants):
        if j == outcomes.control:
            continue
        mine = [c for c in comparisons if c.variant == name]
        primary = next(c for c in mine if c.role == "primary")
        harmed = [c.metric for c in mine if c.role == "guardrail" and c.verdict == "worse"]
        label = METRICS[primary.metric].label
        if srm.flagged:
            decisions.append(Decision(name, "invalid", (
                f"sample ratio mismatch (p = {srm.p_value:.2g}): the split is broken",)))
        elif harmed:
            decisions.append(Decision(name, "do not ship", tuple(
                f"guardrail {METRICS[m].label} is significantly worse" for m in harmed)))
        elif primary.verdict == "worse":
            decisions.append(Decision(name, "do not ship",
                                      (f"{label} is significantly worse",)))
        elif primary.verdict == "better":
            decisions.append(Decision(name, "ship", (f"{label} is significantly better",)))
        elif primary.verdict == "neutral":
            decisions.append(Decision(name, "neutral", (
                f"{label}: the interval rules out any effect beyond "
                f"+-{plan.minimum_effect:.0%}",)))
        else:
            decisions.append(Decision(name, "keep running", (
                f"{label}: not significant, and effects beyond +-{plan.minimum_effect:.0%} "
                "are not ruled out yet",)))
    return tuple(decisions)


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
        mask, table = outcomes.metric_values(at)
        if not mask.any():
            continue
        rows = np.flatnonzero(mask)
        arm = outcomes.arm[mask]
        c = arm_estimate(metric, table, rows[arm == outcomes.control])
        for j, name in enumerate(outcomes.variants):
            if j == outcomes.control:
                continue
            t = arm_estimate(metric, table, rows[arm == j])
            look = compare(metric, "primary", name, c, t, alpha, tau_relative)
            seq = look.sequential_difference
            low, high, p_min = running.get(name, (-math.inf, math.inf, 1.0))
            low, high = max(low, seq.low), min(high, seq.high)
            p_min = min(p_min, look.sequential_p_value)
            running[name] = (low, high, p_min)
            points.append(TimelinePoint(
                day=day, at=at, variant=name, users=int(c.users + t.users), lift=look.lift,
                sequential_lift=relative(Interval(seq.estimate, low, high), c.value),
                sequential_p_value=p_min))
    return points


@dataclass(frozen=True, eq=False)
class Report:
    """Everything the CLI, the API and the admin page show for one experiment."""

    info: ExperimentInfo
    results: ExperimentResults
    timeline: list[TimelinePoint]


def report_for(engine: Engine, key: str, cuped: CupedMethod | bool = "none",
               alpha: float = 0.05, as_of: datetime | None = None,
               dimension: str | None = NEW_VS_RETURNING) -> Report:
    """Load and analyse experiment ``key`` (:class:`UnknownExperiment` when there is none)."""
    from pigen.service.experiments.store import get_experiment

    info = get_experiment(engine, key)
    outcomes = collect_outcomes(engine, info, as_of=as_of, dimension=dimension)
    results = analyse(outcomes, key=info.key, status=info.status, alpha=alpha, cuped=cuped,
                      plan=info.plan, dimension=dimension)
    return Report(info=info, results=results,
                  timeline=timeline(outcomes, metric=info.plan.primary, alpha=alpha))


