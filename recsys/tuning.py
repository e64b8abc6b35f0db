"""ALS hyperparameter search on a validation split carved from train, never from test.

The outer split's train rows are split again the same way (chronologically or
at random); every candidate is fitted on the inner train and ranked on the
inner validation. The caller refits the winner on the whole outer train and
only then looks at test.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import Field, model_validator
from tqdm.auto import tqdm

from pigen.data.typed_config import TypedConfig
from pigen.recsys.als import ALSRecommender
from pigen.recsys.config import ALSConfig, Weighting
from pigen.recsys.evaluation import evaluate, format_metrics_table
from pigen.recsys.metrics import METRIC_NAMES
from pigen.recsys.splits import Split, SplitKind, make_split

SearchMode = Literal["grid", "random"]


class SearchSpace(TypedConfig):
    """Values to try per ALSConfig field; other fields keep the base config's value.

    The default (120 candidates, ~1-2 min on MovieLens 100k with 2 cores) sits
    where a much wider search (factors 16-256, regularization 0.1-50, alpha
    0.1-4, 15/30 iterations, raw/tfidf/bm25) found the best validation scores:
    the usual 0.01-0.1 regularization peaked at its edge and 10-50 did better
    (RECIPES.md: >= 100 collapses to popularity); BM25 (K1=100, B=0.8) trailed raw and tfidf
    by 0.03+ NDCG@10, and 30 iterations or 256 factors changed validation NDCG
    by < 0.002 at 2-4x the cost. ``bm25_k1``/``bm25_b`` vary only for
    ``weighting="bm25"`` candidates. Every field must offer at least one value;
    each value is checked by building the candidates as :class:`ALSConfig`.
    """

    factors: tuple[int, ...] = Field(default=(32, 64, 128), min_length=1)
    regularization: tuple[float, ...] = Field(default=(5.0, 10.0, 20.0, 30.0, 50.0),
                                              min_length=1)
    alpha: tuple[float, ...] = Field(default=(0.25, 0.5, 1.0, 2.0), min_length=1)
    iterations: tuple[int, ...] = Field(default=(15,), min_length=1)
    weighting: tuple[Weighting, ...] = Field(default=("raw", "tfidf"), min_length=1)
    bm25_k1: tuple[float, ...] = Field(default=(100.0,), min_length=1)
    bm25_b: tuple[float, ...] = Field(default=(0.8,), min_length=1)

    @model_validator(mode="after")
    def _check_candidates(self) -> SearchSpace:
        """Building every candidate once validates each value against ALSConfig."""
        self.grid(ALSConfig())
        return self

    def grid(self, base: ALSConfig) -> list[ALSConfig]:
        """Every combination, in a fixed order, duplicates removed."""
        candidates: dict[ALSConfig, None] = {}
        names = list(type(self).model_fields)
        for values in itertools.product(*(getattr(self, name) for name in names)):
            changes = dict(zip(names, values, strict=True))
            if changes["weighting"] != "bm25":
                changes["bm25_k1"], changes["bm25_b"] = base.bm25_k1, base.bm25_b
            candidates[base.replace(**changes)] = None
        return list(candidates)

    def sample(self, base: ALSConfig, count: int, seed: int) -> list[ALSConfig]:
        """``count`` distinct grid points drawn with ``seed`` (the same seed, the same draw)."""
        grid = self.grid(base)
        chosen = np.random.default_rng(seed).choice(len(grid), min(count, len(grid)),
                                                    replace=False)
        return [grid[i] for i in chosen]


# Eight candidates for smoke runs (``--quick``): seconds, not minutes.
QUICK_SPACE = SearchSpace(
    factors=(32, 64), regularization=(10.0, 20.0), alpha=(0.5, 1.0), weighting=("raw",)
)


@dataclass(frozen=True)
class Trial:
    """One candidate's validation metrics and fit time."""

    config: ALSConfig
    metrics: dict[str, float]
    fit_seconds: float


@dataclass(frozen=True)
class TuningResult:
    """All trials, best first by ``metric``."""

    metric: str  # e.g. "ndcg@10"
    trials: tuple[Trial, ...]

    @property
    def best(self) -> ALSConfig:
        return self.trials[0].config

    def table(self, top: int = 10) -> str:
        """The ``top`` trials as a text table (one row per config, best first)."""
        rows = {
            f"{i + 1:>2}. {_label(trial.config)}": {**trial.metrics, "fit s": trial.fit_seconds}
            for i, trial in enumerate(self.trials[:top])
        }
        return format_metrics_table(rows)


def _label(config: ALSConfig) -> str:
    bm25 = f" k1={config.bm25_k1:g} b={config.bm25_b:g}" if config.weighting == "bm25" else ""
    return (f"f={config.factors} reg={config.regularization:g} alpha={config.alpha:g} "
            f"it={config.iterations} {config.weighting}{bm25}")


def validation_split(split: Split, kind: SplitKind, fraction: float = 0.2,
                     seed: int = 0) -> Split:
    """Carve validation out of ``split``'s train rows (same id maps; test untouched)."""
    return make_split(split.train_interactions, kind, test_fraction=fraction, seed=seed,
                      users=split.users, items=split.items)


def tune_als(
    split: Split,
    kind: SplitKind,
    space: SearchSpace | None = None,
    base: ALSConfig | None = None,
    mode: SearchMode = "grid",
    trials: int = 40,
    metric: str = "ndcg",
    k: int = 10,
    seed: int = 0,
    progress: bool = True,
) -> TuningResult:
    """Search ALS configs on validation carved from ``split``'s train; test is never read.

    ``kind`` should match how ``split`` was made, so validation mimics test.
    ``mode="random"`` tries ``trials`` distinct grid points drawn with ``seed``.
    """
    if metric not in METRIC_NAMES:
        raise ValueError(f"metric must be one of {METRIC_NAMES}, got {metric!r}")
    if mode not in ("grid", "random"):
        raise ValueError(f"mode must be 'grid' or 'random', got {mode!r}")
    space = space if space is not None else SearchSpace()
    base = base if base is not None else ALSConfig()
    candidates = space.grid(base) if mode == "grid" else space.sample(base, trials, seed)
    inner = validation_split(split, kind, seed=seed)
    key = f"{metric}@{k}"

    results: list[Trial] = []
    bar = tqdm(candidates, desc=f"tune ALS ({kind})", disable=not progress, leave=False)
    for config in bar:
        start = time.perf_counter()
        model = ALSRecommender(config).fit(inner.train, inner.users, inner.items)
        seconds = time.perf_counter() - start
        metrics = evaluate(model, inner.train, inner.test, k).as_dict()
        results.append(Trial(config, metrics, seconds))
        bar.set_postfix({f"best {key}": f"{max(t.metrics[key] for t in results):.4f}"})
    # Stable: among equal scores the earlier (smaller, cheaper) candidate wins.
    results.sort(key=lambda trial: -trial.metrics[key])
    return TuningResult(key, tuple(results))
