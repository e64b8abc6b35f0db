"""Exposures + purchases -> results: hand-computed tables, exclusions, the timeline, the plot."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import Engine
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

from pigen.service.experiments import analysis, store
from pigen.service.experiments.assignment import Variant
from pigen.service.experiments.plan import AnalysisPlan
from pigen.service.experiments.report import format_table, plot_timeline
from pigen.service.experiments.store import ExposureRow, NewEvent, PurchaseRow

T0 = datetime(2026, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


def info(stopped: datetime | None = None) -> store.ExperimentInfo:
    return store.ExperimentInfo(
        id=1, key="hero", description="", status="running" if stopped is None else "stopped",
        variants=(Variant("control", 1), Variant("personalized", 1)), coverage=1.0, salt="s",
        created_at=T0 - HOUR, started_at=T0, stopped_at=stopped)


def rows() -> tuple[list[ExposureRow], list[PurchaseRow]]:
    exposures = [ExposureRow(f"c{k}", "control", T0 + HOUR) for k in range(4)]
    exposures += [ExposureRow(f"t{k}", "personalized", T0 + HOUR) for k in range(4)]
    # Seen in both arms (a client bug): excluded whatever they bought.
    exposures += [ExposureRow("both", "control", T0 + HOUR),
                  ExposureRow("both", "personalized", T0 + 2 * HOUR)]
    purchases = [
        PurchaseRow("c0", 10.0, T0 + 2 * HOUR),
        PurchaseRow("c0", 5.0, T0 + 3 * HOUR),   # same user again: converts once, revenue 15
        PurchaseRow("c1", 7.0, T0),              # before their exposure: not counted
        PurchaseRow("t0", 20.0, T0 + 2 * HOUR),
        PurchaseRow("t1", 4.0, T0 + 30 * HOUR),  # on day 2
        PurchaseRow("both", 100.0, T0 + 3 * HOUR),
    ]
    return exposures, purchases


def test_hand_computed_table_and_multi_exposed_exclusion() -> None:
    exposures, purchases = rows()
    outcomes = analysis.build_outcomes(info(), exposures, purchases, None, T0 + 48 * HOUR)
    assert outcomes.excluded_multi_exposed == 1 and "both" not in outcomes.user_ids
    results = analysis.analyse(outcomes, key="hero", status="running")
    control, treated = results.arms
    assert (control.users, control.conversions, control.revenue) == (4, 1, 15.0)
    assert (treated.users, treated.conversions, treated.revenue) == (4, 2, 24.0)
    assert control.conversion_rate == 0.25 and treated.revenue_per_user == 6.0
    conv = next(c for c in results.comparisons if c.metric == "conversion")
    assert conv.lift.estimate == pytest.approx(1.0)  # 50% vs 25%
    # The unpooled Wald test the lift and difference intervals are inverted from.
    expected = CompareMeans(DescrStatsW(np.r_[1.0, 1, 0, 0]), DescrStatsW(np.r_[1.0, 0, 0, 0]))
    assert conv.p_value == pytest.approx(expected.ztest_ind(usevar="unequal")[1])
    rev = next(c for c in results.comparisons if c.metric == "revenue_per_user")
    assert rev.difference.estimate == pytest.approx(6.0 - 3.75)
    assert results.excluded_multi_exposed == 1 and not results.srm.flagged
    as_json = results.to_dict()
    assert as_json["arms"][0]["name"] == "control" and as_json["srm"]["observed"] == [4, 4]


def test_window_ends_at_stop_and_timeline_is_cumulative() -> None:
    exposures, purchases = rows()
    stopped = analysis.build_outcomes(info(stopped=T0 + 24 * HOUR), exposures, purchases,
                                      None, T0 + 48 * HOUR)
    assert analysis.analyse(stopped).arms[1].revenue == 20.0  # day-2 purchase is after stop
    live = analysis.build_outcomes(info(), exposures, purchases, None, T0 + 48 * HOUR)
    points = analysis.timeline(live, metric="revenue_per_user")
    assert [p.day for p in points] == [1, 2] and all(p.users == 8 for p in points)
    assert points[0].lift.estimate == pytest.approx(20 / 15 - 1)
    assert points[1].lift.estimate == pytest.approx(24 / 15 - 1)
    # Running intersection: the always-valid interval never widens.
    assert points[1].sequential_p_value <= points[0].sequential_p_value


def test_srm_flags_a_broken_split() -> None:
    rng = np.random.default_rng(0)
    n = 20_000
    arm = (rng.random(n) < 0.52).astype(np.int64)  # 48/52 instead of 50/50
    outcomes = analysis.Outcomes(
        variants=("control", "b"), shares=(0.5, 0.5), control=0,
        user_ids=np.arange(n).astype(str).astype(object), arm=arm, exposed_at=np.zeros(n),
        purchase_user=np.array([], dtype=np.int64), purchase_value=np.array([]),
        purchase_at=np.array([]), excluded_multi_exposed=0, start=0.0, end=1.0)
    results = analysis.analyse(outcomes)
    assert results.srm.flagged and results.srm.p_value < 0.001
    assert math.isnan(results.comparisons[0].lift.estimate)  # no conversions: lift undefined


def test_cuped_reduces_variance_without_moving_the_estimate() -> None:
    rng = np.random.default_rng(1)
    n = 4000
    pre = rng.poisson(3.0, n).astype(float)
    arm = rng.integers(0, 2, n)
    buys = rng.random(n) < np.clip(0.1 * pre, 0, 0.9)
    users = np.flatnonzero(buys)
    outcomes = analysis.Outcomes(
        variants=("control", "b"), shares=(0.5, 0.5), control=0,
        user_ids=np.arange(n).astype(str).astype(object), arm=arm, exposed_at=np.zeros(n),
        purchase_user=users, purchase_value=rng.exponential(20.0, users.size),
        purchase_at=np.ones(users.size), covariates={"activity": pre}, excluded_multi_exposed=0,
        start=0.0, end=2.0)
    plan = AnalysisPlan(secondary=("revenue_per_user",))
    plain = analysis.analyse(outcomes, plan=plan)
    adjusted = analysis.analyse(outcomes, cuped="single", plan=plan)
    assert adjusted.cuped.method == "single" and adjusted.cuped.single["conversion"] > 0.05
    for a, b in zip(plain.comparisons, adjusted.comparisons, strict=True):
        assert b.difference.high - b.difference.low < a.difference.high - a.difference.low
        assert abs(b.difference.estimate - a.difference.estimate) < (
            a.difference.high - a.difference.low) / 2


def test_report_from_the_database_table_and_plot(engine: Engine, tmp_path) -> None:
    store.create_experiment(engine, "hero", [Variant("control", 1), Variant("personalized", 1)],
                            salt="s")
    exp = store.start_experiment(engine, "hero", now=T0)
    for k in range(40):
        user = f"user-{k}"
        variant = exp.design.variant_of(user).name
        store.log_exposure(engine, exp.id, user, variant, at=T0 + (k % 3) * 24 * HOUR)
        if k % 4 == 0:
            store.record_event(engine, NewEvent(f"e{k}", user, "purchase", value=float(k),
                                                occurred_at=T0 + (k % 3) * 24 * HOUR + HOUR))
    store.log_exposure(engine, exp.id, "user-0", "control" if exp.design.variant_of(
        "user-0").name != "control" else "personalized", at=T0 + 2 * HOUR)
    report = analysis.report_for(engine, "hero", cuped="multi", as_of=T0 + 72 * HOUR)
    assert report.results.excluded_multi_exposed == 1
    assert sum(a.users for a in report.results.arms) == 39
    assert sum(a.conversions for a in report.results.arms) == 9
    assert [p.day for p in report.timeline][-1] == 3
    text = format_table(report.results)
    assert "conversion" in text and "excluded: 1 users" in text and "sample ratio" in text
    png = plot_timeline(report.timeline, title="hero", path=tmp_path / "plot.png")
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and (tmp_path / "plot.png").stat().st_size > 1000
    with pytest.raises(store.UnknownExperiment):
        analysis.report_for(engine, "missing")
