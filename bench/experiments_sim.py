"""Simulation proof of the experiment statistics, with shoppers from the storefront simulator.

Shoppers: the simulator (5,000 shoppers over a synthetic 400-item catalog) gives
each one an activity level (how many items they rated) and a mean rating. A
shopper's chance to buy during the experiment grows with both::

    p_u = 1 - exp(-lambda * activity_u * mean_stars_u / 3)

with lambda set so the population converts at ``--base-rate`` (5%), so heavy,
happy shoppers buy more, as in a real store. Each run draws its users from this
pool (with replacement), splits them 50/50, spreads arrivals over ``--days``
days and analyses the data as the service would:

(a) A/A (no difference), ``--runs`` runs: the false-positive rate of the
    fixed-horizon two-proportion z test at the planned end should be 5% +- 2%;
    the always-valid mSPRT interval, checked after *every* day, at most 5%.
    Naive daily peeking at the fixed-horizon test is shown for contrast.
(b) A planted +10% relative conversion lift at the planned sample size (from
    :func:`sample_size_two_proportions`, 80% power): the share of runs that
    detect it should match the planned power.
(c) A broken split (48/52 where 50/50 was configured): the SRM chi-square check
    (flag at p < 0.001) should fire; on a correct split it should almost never.
(d) Many metrics, A/A: 10 metrics (the service's five, estimated as the service
    does, plus conversion in five product groups) x 3 variants against control,
    30 tests per run. With Holm the share of runs with any false win must stay
    <= 5%; naive testing and Benjamini-Hochberg are shown beside it.
(e) CUPED on the same shoppers before and during: variance removed per metric by
    the metric's own pre-period alone and by every covariate at once.

Usage: ``python bench/experiments_sim.py [--runs 500] [--quick]``. Vectorised in
numpy; about half a minute on two cores.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy import stats as st  # noqa: E402

from pigen.data.simulator import SimulatorConfig, simulate  # noqa: E402
from pigen.service.experiments import cuped, stats  # noqa: E402
from pigen.service.experiments.comparison import wald  # noqa: E402
from pigen.service.experiments.metrics import (  # noqa: E402
    UserTable,
    arm_estimate,
    mean_estimate,
)
from pigen.service.experiments.multiple_testing import adjust  # noqa: E402

#: The ten metrics of the many-metrics A/A test: the service's five, and conversion
#: within each of five product groups (as a store with per-category goals would add).
SERVICE_METRICS = ("conversion", "revenue_per_user", "add_to_cart_rate",
                   "average_order_value", "p90_order_value")
GROUPS = 5

CATEGORIES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
              "Sneaker", "Bag", "Ankle boot")
COLOURS = ("red", "orange", "yellow", "green", "teal", "blue", "purple", "pink", "black", "white")
PATTERNS = ("solid", "striped", "checked", "dotted")


@dataclass(frozen=True)
class Pool:
    """The simulated shoppers an experiment draws its users from."""

    p_buy: np.ndarray  # (S,) chance to convert during the experiment
    activity: np.ndarray  # (S,) ratings before the experiment (CUPED's covariate)
    mean_stars: np.ndarray  # (S,) mean rating: an attribute known at assignment


def shopper_pool(n_shoppers: int, base_rate: float, seed: int) -> Pool:
    """Simulate shoppers and turn activity and satisfaction into buying propensities."""
    rng = np.random.default_rng(seed)
    n_items = 400
    items = pd.DataFrame({
        "item_id": [f"item-{k:04d}" for k in range(n_items)],
        "category": rng.choice(CATEGORIES, n_items),
        "colour_name": rng.choice(COLOURS, n_items),
        "pattern": rng.choice(PATTERNS, n_items),
    })
    ratings = simulate(items, SimulatorConfig(n_shoppers=n_shoppers, seed=seed,
                                              mean_ratings=20.0)).ratings
    per_user = ratings.groupby("user_id")["rating"].agg(["size", "mean"])
    activity = per_user["size"].to_numpy(np.float64)
    drive = activity * per_user["mean"].to_numpy() / 3.0
    # Solve mean(1 - exp(-lam * drive)) = base_rate for lam (monotone in lam).
    low, high = 0.0, 1.0
    for _ in range(100):
        lam = (low + high) / 2
        low, high = (lam, high) if np.mean(1 - np.exp(-lam * drive)) < base_rate else (low, lam)
    return Pool(p_buy=1.0 - np.exp(-lam * drive), activity=activity,
                mean_stars=per_user["mean"].to_numpy(np.float64))


@dataclass(frozen=True)
class Looks:
    """Cumulative counts per run, day and arm: users ``n`` and converters ``x``, (R, D, 2)."""

    n: np.ndarray
    x: np.ndarray


def simulate_runs(pool: Pool, runs: int, users: int, days: int, lift: float,
                  treated_share: float, rng: np.random.Generator, chunk: int = 25) -> Looks:
    """Draw ``runs`` experiments of ``users`` users each; arm 1 converts ``(1 + lift)`` times
    as often; ``treated_share`` of users land in arm 1."""
    ns, xs = [], []
    for start in range(0, runs, chunk):
        r = min(chunk, runs - start)
        who = rng.integers(0, pool.p_buy.size, (r, users))  # (r, N)
        arm = (rng.random((r, users)) < treated_share).astype(np.int64)
        p = pool.p_buy[who] * np.where(arm == 1, 1.0 + lift, 1.0)
        buys = rng.random((r, users)) < p
        day = rng.integers(0, days, (r, users))
        cell = (np.arange(r)[:, None] * days + day) * 2 + arm  # (r, N) -> run, day, arm
        size = r * days * 2
        n = np.bincount(cell.ravel(), minlength=size).reshape(r, days, 2)
        x = np.bincount(cell.ravel(), weights=buys.ravel(), minlength=size).reshape(r, days, 2)
        ns.append(np.cumsum(n, axis=1))
        xs.append(np.cumsum(x, axis=1))
    return Looks(n=np.concatenate(ns), x=np.concatenate(xs))


def fixed_horizon_p(looks: Looks) -> np.ndarray:
    """(R, D) two-sided unpooled Wald p-values at every look (the same test as the service)."""
    n_c, n_t = looks.n[..., 0], looks.n[..., 1]
    p_c, p_t = looks.x[..., 0] / n_c, looks.x[..., 1] / n_t
    # Per-user variance with ddof=1, as SampleStats.of computes it, over n.
    var = p_c * (1 - p_c) / (n_c - 1) + p_t * (1 - p_t) / (n_t - 1)
    se = np.sqrt(var)
    z = (p_t - p_c) / np.where(se > 0, se, np.inf)
    return 2 * st.norm.sf(np.abs(z))


def sequential_rejects(looks: Looks, alpha: float, tau_relative: float) -> np.ndarray:
    """(R, D) whether the always-valid mSPRT interval excludes 0 at each look."""
    n_c, n_t = looks.n[..., 0], looks.n[..., 1]
    p_c, p_t = looks.x[..., 0] / n_c, looks.x[..., 1] / n_t
    # Per-user variance with ddof=1, as SampleStats.of computes it, over n.
    var = (p_c * (1 - p_c) * n_c / (n_c - 1)) / n_c + (p_t * (1 - p_t) * n_t / (n_t - 1)) / n_t
    pooled = (looks.x[..., 0] + looks.x[..., 1]) / (n_c + n_t)
    half = stats.msprt_half_width(var, stats.msprt_tau(pooled, tau_relative), alpha)
    return np.abs(p_t - p_c) > half


def check_against_service(looks: Looks, alpha: float, tau_relative: float) -> None:
    """The vectorised tests agree with the service's own functions on one look."""
    n_c, n_t = (int(v) for v in looks.n[0, -1])
    x_c, x_t = (int(v) for v in looks.x[0, -1])
    yc = np.r_[np.ones(x_c), np.zeros(n_c - x_c)]
    yt = np.r_[np.ones(x_t), np.zeros(n_t - x_t)]
    c, t = stats.SampleStats.of(yc), stats.SampleStats.of(yt)
    _, p = stats.z_test_means(c, t)
    assert abs(p - fixed_horizon_p(looks)[0, -1]) < 1e-9
    tau = stats.msprt_tau((x_c + x_t) / (n_c + n_t), tau_relative)
    ci = stats.msprt_ci(t.mean - c.mean, c.var_of_mean + t.var_of_mean, tau, alpha)
    assert ci.excludes_zero == bool(sequential_rejects(looks, alpha, tau_relative)[0, -1])


@dataclass(frozen=True)
class Behaviour:
    """One period of shopping by a sample of the pool (U users, E orders)."""

    table: UserTable
    group_buyer: np.ndarray  # (GROUPS, U) bought in product group g


def shop(pool: Pool, who: np.ndarray, rng: np.random.Generator) -> Behaviour:
    """Purchases (some users buy again), order values clustered by user, add-to-carts."""
    p = pool.p_buy[who]
    n = who.size
    orders = (rng.random(n) < p) * (1 + rng.poisson(0.3, n))
    owner = np.repeat(np.arange(n), orders)
    level = rng.lognormal(3.0, 0.5, n)  # a user's typical basket
    values = level[owner] * rng.exponential(1.0, owner.size)
    group = rng.integers(0, GROUPS, owner.size)
    carts = (rng.random(n) < np.clip(3.0 * p, 0.0, 1.0)).astype(np.int64)
    table = UserTable(purchases=orders, revenue=np.bincount(owner, weights=values, minlength=n),
                      carts=carts, order_value=values, order_user=owner)
    group_buyer = np.zeros((GROUPS, n))
    group_buyer[group, owner] = 1.0
    return Behaviour(table, group_buyer)


def many_metrics_aa(pool: Pool, runs: int, users_per_arm: int, variants: int,
                    rng: np.random.Generator) -> np.ndarray:
    """(runs, 10 metrics x variants) p-values of A/A tests, each by the service's estimators
    and its Wald test."""
    out = np.empty((runs, (len(SERVICE_METRICS) + GROUPS) * variants))
    for r in range(runs):
        n = users_per_arm * (variants + 1)
        arm = rng.integers(0, variants + 1, n)
        data = shop(pool, rng.integers(0, pool.p_buy.size, n), rng)
        rows = [np.flatnonzero(arm == j) for j in range(variants + 1)]
        p_values = []
        for metric in SERVICE_METRICS:
            c = arm_estimate(metric, data.table, rows[0])
            p_values += [wald(c, arm_estimate(metric, data.table, rows[j]))[1]
                         for j in range(1, variants + 1)]
        for g in range(GROUPS):
            c = mean_estimate(data.group_buyer[g, rows[0]])
            p_values += [wald(c, mean_estimate(data.group_buyer[g, rows[j]]))[1]
                         for j in range(1, variants + 1)]
        out[r] = p_values
    return out


def cuped_variance_removed(pool: Pool, users: int, rng: np.random.Generator
                           ) -> dict[str, tuple[float, float]]:
    """Per mean metric ``(single, multi)`` share of variance removed, on the same users:
    a pre-period and an experiment period of the same shoppers."""
    who = rng.integers(0, pool.p_buy.size, users)
    before, during = shop(pool, who, rng), shop(pool, who, rng)
    covariates = {
        "pre_conversion": before.table.per_user("conversion"),
        "pre_revenue": before.table.revenue, "pre_add_to_cart": before.table.per_user(
            "add_to_cart_rate"),
        "pre_orders": before.table.purchases.astype(np.float64),
        "activity": pool.activity[who], "mean_stars": pool.mean_stars[who]}
    out = {}
    for metric in ("conversion", "revenue_per_user", "add_to_cart_rate"):
        y = during.table.per_user(metric)
        out[metric] = (cuped.single(metric, y, covariates).variance_removed,
                       cuped.multi(y, covariates).variance_removed)
    return out


def verdict(ok: bool) -> str:
    return "ok" if ok else "FAIL"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--days", type=int, default=14, help="daily looks per run")
    parser.add_argument("--base-rate", type=float, default=0.05)
    parser.add_argument("--lift", type=float, default=0.10, help="planted relative lift")
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--power", type=float, default=0.80)
    parser.add_argument("--shoppers", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--users-per-arm", type=int, default=4000,
                        help="users per arm of the many-metrics A/A test")
    parser.add_argument("--cuped-users", type=int, default=20_000)
    parser.add_argument("--quick", action="store_true", help="smoke run: 40 runs, 1,000 shoppers")
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.shoppers, args.users_per_arm, args.cuped_users = 40, 1000, 1000, 4000
    started = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    tau_rel = stats.DEFAULT_TAU_RELATIVE

    pool = shopper_pool(args.shoppers, args.base_rate, args.seed)
    per_arm = stats.sample_size_two_proportions(args.base_rate, args.lift, args.alpha,
                                                args.power)
    users = 2 * per_arm
    print(f"shoppers  {pool.p_buy.size:,} from the simulator: activity "
          f"{pool.activity.min():.0f}-{pool.activity.max():.0f} ratings, conversion "
          f"{pool.p_buy.min():.2%}-{pool.p_buy.max():.2%} (mean {pool.p_buy.mean():.2%})")
    print(f"plan      +{args.lift:.0%} on {args.base_rate:.0%}: {per_arm:,} users per arm "
          f"(alpha {args.alpha}, two-sided, power {args.power:.0%}), {args.days} daily looks, "
          f"{args.runs} runs per scenario; mSPRT tau = {tau_rel:.0%} of the pooled rate")

    # (a) A/A.
    aa = simulate_runs(pool, args.runs, users, args.days, 0.0, 0.5, rng)
    check_against_service(aa, args.alpha, tau_rel)
    p_aa = fixed_horizon_p(aa)
    fpr_fixed = float(np.mean(p_aa[:, -1] < args.alpha))
    fpr_naive = float(np.mean((p_aa < args.alpha).any(axis=1)))
    fpr_seq = float(np.mean(sequential_rejects(aa, args.alpha, tau_rel).any(axis=1)))
    ok_a = abs(fpr_fixed - 0.05) <= 0.02 and fpr_seq <= 0.05
    print(f"(a) A/A false-positive rate: fixed-horizon {fpr_fixed:.1%} (target 5% +- 2%), "
          f"sequential with daily peeking {fpr_seq:.1%} (target <= 5%) -> {verdict(ok_a)}; "
          f"naive daily peeking at the fixed test {fpr_naive:.1%}")

    # (b) planted lift.
    ab = simulate_runs(pool, args.runs, users, args.days, args.lift, 0.5, rng)
    p_ab = fixed_horizon_p(ab)
    power = float(np.mean(p_ab[:, -1] < args.alpha))
    expected = stats.power_two_proportions(args.base_rate, args.lift, per_arm, args.alpha)
    se = np.sqrt(expected * (1 - expected) / args.runs)
    seq_power = float(np.mean(sequential_rejects(ab, args.alpha, tau_rel).any(axis=1)))
    ok_b = abs(power - expected) <= 3 * se
    print(f"(b) +{args.lift:.0%} lift detected at the planned n: fixed-horizon power "
          f"{power:.1%} (expected {expected:.1%} +- {3 * se:.1%}) -> {verdict(ok_b)}; "
          f"sequential (any daily look) {seq_power:.1%}")

    # (c) SRM: only the split matters, so draw the arm counts directly.
    broken = rng.binomial(users, 0.52, args.runs)
    fair = rng.binomial(users, 0.50, args.runs)
    p_broken = np.array([stats.srm_test(np.array([users - b, b]), np.ones(2))[1]
                         for b in broken])
    p_fair = np.array([stats.srm_test(np.array([users - f, f]), np.ones(2))[1] for f in fair])
    flagged, false_flags = float(np.mean(p_broken < 0.001)), float(np.mean(p_fair < 0.001))
    ok_c = flagged >= 0.99 and false_flags <= 0.01
    print(f"(c) SRM check on a 48/52 split of {users:,} users: flagged in {flagged:.1%} of runs "
          f"(median p {np.median(p_broken):.1e}); on a true 50/50 split {false_flags:.1%} "
          f"-> {verdict(ok_c)}")

    # (d) Many metrics: 10 metrics x 3 variants against control, all A/A.
    p_many = many_metrics_aa(pool, args.runs, args.users_per_arm, 3, rng)
    tests = p_many.shape[1]
    naive = float(np.mean((p_many < args.alpha).any(axis=1)))
    holm = float(np.mean([(adjust(row, "holm") < args.alpha).any() for row in p_many]))
    bh = float(np.mean([(adjust(row, "bh") < args.alpha).any() for row in p_many]))
    per_test = float(np.mean(p_many < args.alpha))
    se_holm = np.sqrt(max(holm * (1 - holm), 1e-9) / args.runs)
    ok_d = holm <= 0.05
    print(f"(d) A/A, 10 metrics x 3 variants ({tests} tests, {args.users_per_arm:,} users per "
          f"arm): runs with any false win: naive {naive:.1%}, Holm {holm:.1%} (+- "
          f"{2 * se_holm:.1%}; target <= 5%) -> {verdict(ok_d)}, Benjamini-Hochberg {bh:.1%} "
          f"(all nulls true: FDR = FWER); per-test false-positive rate {per_test:.1%}")

    # (e) CUPED: one covariate (the metric's own pre-period) vs all of them, same users.
    removed = cuped_variance_removed(pool, args.cuped_users, rng)
    parts = "; ".join(f"{m} {one:.1%} single vs {many:.1%} multi"
                      for m, (one, many) in removed.items())
    print(f"(e) CUPED variance removed on {args.cuped_users:,} shoppers: {parts}")
    print(f"time      {time.perf_counter() - started:.1f}s")
    return 0 if (ok_a and ok_b and ok_c and ok_d) or args.quick else 1


if __name__ == "__main__":
    sys.exit(main())
