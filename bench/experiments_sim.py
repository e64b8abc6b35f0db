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
from pigen.service.experiments import stats  # noqa: E402

CATEGORIES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
              "Sneaker", "Bag", "Ankle boot")
COLOURS = ("red", "orange", "yellow", "green", "teal", "blue", "purple", "pink", "black", "white")
PATTERNS = ("solid", "striped", "checked", "dotted")


@dataclass(frozen=True)
class Pool:
    """The simulated shoppers an experiment draws its users from."""

    p_buy: np.ndarray  # (S,) chance to convert during the experiment
    activity: np.ndarray  # (S,) ratings before the experiment (CUPED's covariate)


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
    return Pool(p_buy=1.0 - np.exp(-lam * drive), activity=activity)


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
    """(R, D) two-sided pooled z-test p-values at every look (the same test as the service)."""
    n_c, n_t = looks.n[..., 0], looks.n[..., 1]
    x_c, x_t = looks.x[..., 0], looks.x[..., 1]
    pooled = (x_c + x_t) / (n_c + n_t)
    se = np.sqrt(pooled * (1 - pooled) * (1 / n_c + 1 / n_t))
    z = (x_t / n_t - x_c / n_c) / np.where(se > 0, se, np.inf)
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
    _, p = stats.z_test_proportions(x_c, n_c, x_t, n_t)
    assert abs(p - fixed_horizon_p(looks)[0, -1]) < 1e-9
    yc = np.r_[np.ones(x_c), np.zeros(n_c - x_c)]
    yt = np.r_[np.ones(x_t), np.zeros(n_t - x_t)]
    c, t = stats.SampleStats.of(yc), stats.SampleStats.of(yt)
    tau = stats.msprt_tau((x_c + x_t) / (n_c + n_t), tau_relative)
    ci = stats.msprt_ci(t.mean - c.mean, c.var_of_mean + t.var_of_mean, tau, alpha)
    assert ci.excludes_zero == bool(sequential_rejects(looks, alpha, tau_relative)[0, -1])


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
    parser.add_argument("--quick", action="store_true", help="smoke run: 40 runs, 1,000 shoppers")
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.shoppers = 40, 1000
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

    # CUPED on the same shoppers: pre-experiment activity as the covariate.
    who = rng.integers(0, pool.p_buy.size, users)
    y = (rng.random(users) < pool.p_buy[who]).astype(np.float64)
    adjusted = stats.cuped_adjust(y, pool.activity[who])
    print(f"CUPED     pre-experiment activity removes {1 - adjusted.var() / y.var():.1%} of "
          "the conversion variance")
    print(f"time      {time.perf_counter() - started:.1f}s")
    return 0 if (ok_a and ok_b and ok_c) or args.quick else 1


if __name__ == "__main__":
    sys.exit(main())
