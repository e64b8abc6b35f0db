"""Recommender pipeline speed: pigen's DB -> CSR -> fit -> save vs a bare implicit fit.

For 1,000,000 simulated ratings already in the database (SQLite by default,
PostgreSQL with --postgres), times pigen's whole training job
(``train_and_register``: read the matrix, fit, save the .npz, register and
activate the version) against ``implicit.cpu.als.AlternatingLeastSquares.fit``
on an in-memory CSR of the same data with the same parameters, interleaved in
the same run; then recommendation latency for one user and for all users as
one batch call.

    python bench/recsys_pipeline.py [--shoppers 25000] [--repeats 3] [--postgres]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import implicit.cpu.als  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from pigen.data.ingest import ingest_catalog_frame, ingest_ratings_frame  # noqa: E402
from pigen.data.migrate import upgrade_database  # noqa: E402
from pigen.data.ratings_matrix import read_user_items  # noqa: E402
from pigen.data.simulator import SimulatorConfig, simulate  # noqa: E402
from pigen.recsys.als import ALSRecommender  # noqa: E402
from pigen.recsys.config import ALSConfig  # noqa: E402
from pigen.recsys.user_factors import resolve_user_factor, top_items  # noqa: E402
from pigen.service.recsys_serving import train_and_register  # noqa: E402

CATEGORIES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
              "Sneaker", "Bag", "Ankle boot"]
COLOURS = ["red", "orange", "yellow", "green", "teal", "blue", "navy", "purple", "pink",
           "brown", "black", "grey", "white"]
PATTERNS = ["solid", "striped", "checked", "dotted"]


def synthetic_catalog(n_items: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "item_id": [f"item-{k:05d}" for k in range(1, n_items + 1)],
        "category": rng.choice(CATEGORIES, n_items),
        "colour_name": rng.choice(COLOURS, n_items),
        "pattern": rng.choice(PATTERNS, n_items),
    })


def bare_fit(user_items, config: ALSConfig) -> float:  # type: ignore[no-untyped-def]
    """implicit alone: same parameters, raw confidences (alpha x value), one BLAS thread."""
    model = implicit.cpu.als.AlternatingLeastSquares(
        factors=config.factors, regularization=config.regularization, alpha=config.alpha,
        iterations=config.iterations, random_state=config.random_seed,
        num_threads=config.num_threads, dtype=np.float32)
    with threadpool_limits(1, "blas"):
        started = time.perf_counter()
        model.fit(user_items, show_progress=False)
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shoppers", type=int, default=25_000)
    parser.add_argument("--items", type=int, default=5_000)
    parser.add_argument("--ratings-per-shopper", type=float, default=40.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--postgres", action="store_true",
                        help="use PIGEN_BENCH_POSTGRES_URL (default local test db) not SQLite")
    args = parser.parse_args()
    config = ALSConfig()  # the defaults `pigen recsys train` uses

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.postgres:
            from ingest import postgres_database  # bench/ingest.py: a throw-away schema

            database = postgres_database(folder)
        else:
            from ingest import sqlite_database

            database = sqlite_database(folder)
        with database as engine:
            upgrade_database(engine)
            items = synthetic_catalog(args.items)
            ingest_catalog_frame(engine, items)
            result = simulate(items, SimulatorConfig(n_shoppers=args.shoppers,
                                                     mean_ratings=args.ratings_per_shopper))
            report = ingest_ratings_frame(engine, result.ratings)
            print(f"{report.inserted:,} ratings of {args.shoppers:,} shoppers x "
                  f"{args.items:,} items in {engine.dialect.name}; ALS {config.factors} "
                  f"factors, {config.iterations} iterations, {config.num_threads} thread(s); "
                  f"median of {args.repeats}\n")
            in_memory = read_user_items(engine).user_items
            pipeline, bare, reads = [], [], []
            for _ in range(args.repeats):  # interleaved: both see the same noise
                started = time.perf_counter()
                read_user_items(engine)
                reads.append(time.perf_counter() - started)
                started = time.perf_counter()
                version = train_and_register(engine, folder / "models", config)
                pipeline.append(time.perf_counter() - started)
                bare.append(bare_fit(in_memory, config))
            ours, theirs = statistics.median(pipeline), statistics.median(bare)
            print(f"{'step':<42} {'seconds':>8}")
            print(f"{'bare implicit fit (in-memory CSR)':<42} {theirs:>8.2f}")
            print(f"{'pigen: DB -> CSR only':<42} {statistics.median(reads):>8.2f}")
            print(f"{'pigen: DB -> CSR -> fit -> save -> register':<42} {ours:>8.2f}")
            print(f"{'ratio pipeline / bare fit':<42} {ours / theirs:>7.2f}x  (target <= 1.5x)\n")

            model = ALSRecommender.load(version.path)
            latency(model, in_memory)


def latency(model: ALSRecommender, user_items) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(1)
    users = rng.choice(len(model.users), size=min(1000, len(model.users)), replace=False)
    for row in users[:20]:  # warm-up
        model.recommend(int(row), user_items[int(row)], n=10)
    one = []
    for row in users:
        started = time.perf_counter()
        model.recommend(int(row), user_items[int(row)], n=10)
        one.append(time.perf_counter() - started)
    served = []
    for row in users[:300]:  # the serving path: pick the factor, then rank
        history = user_items[int(row)]
        item_ids = [model.items.id_of(int(c)) for c in history.indices]
        started = time.perf_counter()
        user = resolve_user_factor(model, model.users.id_of(int(row)), item_ids,
                                   history.data, has_newer=True)  # forces a fold-in
        top_items(model, user, 10)
        served.append(time.perf_counter() - started)
    rows = np.arange(len(model.users))
    started = time.perf_counter()
    ids, _ = model.recommend(rows, user_items, n=10)
    batch = time.perf_counter() - started
    assert ids.shape == (len(rows), 10)
    print(f"recommend, one user (known factor):  median {np.median(one) * 1e3:.3f} ms, "
          f"p95 {np.percentile(one, 95) * 1e3:.3f} ms  (target median < 2 ms)")
    print(f"recommend, one user with fold-in:    median {np.median(served) * 1e3:.3f} ms, "
          f"p95 {np.percentile(served, 95) * 1e3:.3f} ms")
    print(f"recommend, all {len(rows):,} users, one call: {batch:.2f} s "
          f"({batch / len(rows) * 1e6:.0f} us per user)")


if __name__ == "__main__":
    main()
