"""Metrics as data: the estimators, the corrections, guardrails, neutral results, breakdowns
and multi-covariate CUPED, each against statsmodels, a simulation or a planted effect."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import Engine
from statsmodels.stats.multitest import multipletests

from pigen.service.experiments import analysis, store
from pigen.service.experiments.assignment import Variant
from pigen.service.experiments.breakdown import cochran_q
from pigen.service.experiments.comparison import intervals, wald
from pigen.service.experiments.metrics import (
    Estimate,
    mean_estimate,
    quantile_estimate,
    ratio_estimate,
)
from pigen.service.experiments.multiple_testing import adjust, interval_alpha
from pigen.service.experiments.plan import AnalysisPlan

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def outcomes(n: int, seed: int, conversion: tuple[float, ...] = (0.1, 0.1),
             cart: tuple[float, ...] = (0.2, 0.2), order_mean: tuple[float, ...] = (30.0, 30.0),
             segments: dict[str, np.ndarray] | None = None, arm: np.ndarray | None = None,
             covariates: dict[str, np.ndarray] | None = None,
             p_buy: np.ndarray | None = None) -> analysis.Outcomes:
    """Synthetic users with per-arm conversion, cart and order-value levels."""
    rng = np.random.default_rng(seed)
    k = len(conversion)
    arm = rng.integers(0, k, n) if arm is None else arm
    p = np.asarray(conversion)[arm] if p_buy is None else p_buy
    buyers = np.flatnonzero(rng.random(n) < p)
    repeat = buyers[rng.random(buyers.size) < 0.3]  # some buy twice
    orders = np.r_[buyers, repeat]
    carts = np.flatnonzero(rng.random(n) < np.asarray(cart)[arm])
    values = rng.exponential(np.asarray(order_mean)[arm[orders]])
    users = np.r_[orders, carts]
    return analysis.Outcomes(
        variants=tuple(["control"] + [f"v{j}" for j in range(1, k)]), shares=(1 / k,) * k,
        control=0, user_ids=np.arange(n).astype(str).astype(object), arm=arm,
        exposed_at=np.zeros(n), purchase_user=users,
        purchase_value=np.r_[values, np.zeros(carts.size)], purchase_at=np.ones(users.size),
        is_cart=np.r_[np.zeros(orders.size, bool), np.ones(carts.size, bool)],
        excluded_multi_exposed=0, start=0.0, end=2.0, covariates=covariates,
        segments=segments or {})


def test_ratio_metric_delta_variance_is_the_linearised_variance() -> None:
    rng = np.random.default_rng(0)
    orders = rng.poisson(1.2, 500).astype(float)
    revenue = orders * rng.exponential(25.0, 500)
    est = ratio_estimate(revenue, orders)
    ratio = revenue.sum() / orders.sum()
    linear = (revenue - ratio * orders) / orders.mean()
    assert est.value == pytest.approx(ratio)
    assert est.var == pytest.approx(linear.var(ddof=1) / orders.size, rel=1e-9)


def test_ratio_and_quantile_standard_errors_match_a_simulation() -> None:
    """The delta-method and Deng-Knoblich-Yu standard errors against the spread of estimates
    over 300 replications of clustered orders (a user's orders share their level)."""
    rng = np.random.default_rng(1)
    ratios, ratio_se, quantiles, quantile_se = [], [], [], []
    for _ in range(300):
        users = 800
        orders = rng.poisson(1.5, users)
        level = rng.lognormal(3.0, 0.6, users)  # per-user taste: orders are clustered
        owner = np.repeat(np.arange(users), orders)
        values = level[owner] * rng.exponential(1.0, owner.size)
        revenue = np.bincount(owner, weights=values, minlength=users)
        r = ratio_estimate(revenue, orders.astype(float))
        q = quantile_estimate(values, owner, users)
        ratios.append(r.value)
        ratio_se.append(math.sqrt(r.var))
        quantiles.append(q.value)
        quantile_se.append(math.sqrt(q.var))
    assert np.mean(ratio_se) == pytest.approx(np.std(ratios), rel=0.15)
    assert np.mean(quantile_se) == pytest.approx(np.std(quantiles), rel=0.2)


@pytest.mark.parametrize(("ours", "theirs"), [("holm", "holm"), ("bh", "fdr_bh")])
def test_corrections_match_statsmodels(ours: str, theirs: str) -> None:
    rng = np.random.default_rng(2)
    for _ in range(50):
        p = np.r_[rng.uniform(0, 1, 20), rng.uniform(0, 0.01, 5)]
        rng.shuffle(p)
        assert adjust(p, ours) == pytest.approx(multipletests(p, method=theirs)[1], rel=1e-12)


def test_corrected_interval_excludes_zero_iff_adjusted_p_below_alpha() -> None:
    rng = np.random.default_rng(3)
    for _ in range(200):
        pairs = [(Estimate(100, rng.normal(10, 0.5), 0.04), Estimate(100, rng.normal(10, 0.5),
                                                                     0.04)) for _ in range(6)]
        p = np.array([wald(c, t)[1] for c, t in pairs])
        for method in ("holm", "bh"):
            for (c, t), p_k, p_adj in zip(pairs, p, adjust(p, method), strict=True):
                diff, lift = intervals(c, t, interval_alpha(p_k, p_adj, 0.05))
                assert diff.excludes_zero == (p_adj < 0.05)
                assert lift.excludes_zero == (p_adj < 0.05)


def test_every_metric_is_reported_and_a_harmed_guardrail_blocks_shipping() -> None:
    """Conversion up 30%, but add-to-cart (a guardrail) down by half: do not ship."""
    data = outcomes(20_000, 4, conversion=(0.10, 0.13), cart=(0.2, 0.1))
    plan = AnalysisPlan(guardrails=("add_to_cart_rate",))
    results = analysis.analyse(data, plan=plan)
    assert {(c.metric, c.role) for c in results.comparisons} == {
        ("conversion", "primary"), ("revenue_per_user", "secondary"),
        ("add_to_cart_rate", "secondary"), ("average_order_value", "secondary"),
        ("p90_order_value", "secondary"), ("add_to_cart_rate", "guardrail")}
    primary = next(c for c in results.comparisons if c.role == "primary")
    assert primary.verdict == "better"
    (decision,) = results.decisions
    assert decision.decision == "do not ship" and "add-to-cart rate" in decision.reasons[0]
    unguarded = analysis.analyse(data, plan=AnalysisPlan())
    assert unguarded.decisions[0].decision == "ship"


def test_a_well_measured_null_is_neutral_not_just_not_significant() -> None:
    big = analysis.analyse(outcomes(200_000, 5, conversion=(0.3, 0.3)),
                           plan=AnalysisPlan(secondary=(), minimum_effect=0.05))
    assert big.comparisons[0].verdict == "neutral" and big.decisions[0].decision == "neutral"
    small = analysis.analyse(outcomes(400, 5, conversion=(0.3, 0.3)),
                             plan=AnalysisPlan(secondary=(), minimum_effect=0.05))
    assert small.comparisons[0].verdict == "inconclusive"
    assert small.decisions[0].decision == "keep running"


def test_breakdown_srm_per_value_and_heterogeneity_only_after_correction() -> None:
    rng = np.random.default_rng(6)
    n = 40_000
    segment = np.where(rng.random(n) < 0.5, "new", "returning").astype(object)
    arm = rng.integers(0, 2, n)
    # Returning users lose a quarter of treatment arms: SRM in that value only.
    lost = (segment == "returning") & (arm == 1) & (rng.random(n) < 0.25)
    keep = ~lost
    effect = np.where((segment == "new") & (arm == 1), 0.08, 0.0)  # new shoppers only
    data = outcomes(int(keep.sum()), 7, arm=arm[keep], p_buy=(0.1 + effect)[keep],
                    segments={"new_vs_returning": segment[keep]})
    result = analysis.analyse(data, dimension="new_vs_returning")
    split = result.breakdown
    assert split is not None and split.srm_threshold == pytest.approx(0.001 / 2)
    flagged = {s.value: s.srm_flagged for s in split.segments}
    assert flagged == {"new": False, "returning": True}
    assert split.heterogeneity[0].heterogeneous


def test_no_heterogeneity_claimed_under_the_null() -> None:
    claims = 0
    for seed in range(40):
        rng = np.random.default_rng(100 + seed)
        n = 4000
        labels = rng.choice(np.array(["a", "b", "c", "d", "e"], dtype=object), n)
        data = outcomes(n, 200 + seed, conversion=(0.1,) * 3, cart=(0.2,) * 3,
                        order_mean=(30.0,) * 3, segments={"d": labels})
        split = analysis.analyse(data, dimension="d").breakdown
        assert split is not None
        claims += any(h.heterogeneous for h in split.heterogeneity)
    assert claims <= 4  # Bonferroni over 2 variants at 5%: about 2 in 40 expected


def test_cochran_q_matches_the_hand_formula() -> None:
    q, df, p = cochran_q(np.array([1.0, 2.0, 4.0]), np.array([1.0, 1.0, 2.0]))
    pooled = (1 + 2 + 2) / 2.5
    assert q == pytest.approx((1 - pooled) ** 2 + (2 - pooled) ** 2 + (4 - pooled) ** 2 / 2)
    assert df == 2 and 0 < p < 1


def test_multi_covariate_cuped_removes_more_variance_than_single() -> None:
    """Conversion driven by past buying *and* activity: both covariates explain some of it."""
    rng = np.random.default_rng(8)
    n = 30_000
    pre_conversion = (rng.random(n) < 0.2).astype(float)
    activity = rng.poisson(3.0, n).astype(float)
    p_buy = np.clip(0.03 + 0.25 * pre_conversion + 0.04 * activity, 0, 0.95)
    covariates = {"pre_conversion": pre_conversion, "activity": activity,
                  "noise": rng.random(n)}
    data = outcomes(n, 9, p_buy=p_buy, covariates=covariates)
    plan = AnalysisPlan(secondary=())
    plain = analysis.analyse(data, plan=plan)
    multi = analysis.analyse(data, cuped="multi", plan=plan)
    single = analysis.analyse(data, cuped="single", plan=plan)
    assert multi.cuped.single == single.cuped.single  # both reported in the same run
    removed_single = multi.cuped.single["conversion"]
    removed_multi = multi.cuped.multi["conversion"]
    assert 0.02 < removed_single < removed_multi
    width = {name: r.comparisons[0].difference.high - r.comparisons[0].difference.low
             for name, r in (("plain", plain), ("single", single), ("multi", multi))}
    assert width["multi"] < width["single"] < width["plain"]


def test_plan_and_pre_period_round_trip_through_the_database(engine: Engine) -> None:
    plan = AnalysisPlan(primary="revenue_per_user", secondary=("conversion",),
                        guardrails=("add_to_cart_rate",), correction="bh", minimum_effect=0.05)
    created = store.create_experiment(engine, "plan", [Variant("control", 1), Variant("b", 1)],
                                      plan=plan)
    assert store.get_experiment(engine, "plan").plan == plan == created.plan
    info = store.start_experiment(engine, "plan", now=T0)
    store.log_exposure(engine, info.id, "old", "control", at=T0 + timedelta(hours=1))
    store.log_exposure(engine, info.id, "fresh", "b", at=T0 + timedelta(hours=1))
    for k, (kind, value, at) in enumerate([("purchase", 12.5, T0 - timedelta(days=3)),
                                           ("add_to_cart", 0.0, T0 - timedelta(days=2)),
                                           ("purchase", 4.0, T0 + timedelta(hours=2))]):
        store.record_event(engine, store.NewEvent(f"e{k}", "old", kind, value=value,
                                                  occurred_at=at))
    pre = store.load_pre_period(engine, info.id, before=T0)
    assert pre["old"]["pre_revenue"] == 12.5 and pre["old"]["pre_orders"] == 1.0
    assert pre["old"]["pre_add_to_cart"] == 1.0 and pre["old"]["activity"] == 2.0
    assert "fresh" not in pre
    report = analysis.report_for(engine, "plan", cuped="multi", as_of=T0 + timedelta(days=1))
    assert report.results.plan["primary"] == "revenue_per_user"
    segments = {s.value: s.users for s in report.results.breakdown.segments}
    assert segments == {"new": (0, 1), "returning": (1, 0)}
    with pytest.raises(ValueError, match="cannot break down by 'salary'"):
        analysis.report_for(engine, "plan", dimension="salary")


def test_mean_estimate_is_the_sample_mean_with_its_variance() -> None:
    y = np.array([1.0, 0.0, 0.0, 1.0, 1.0])
    est = mean_estimate(y)
    assert (est.users, est.value) == (5, 0.6)
    assert est.var == pytest.approx(y.var(ddof=1) / 5)
