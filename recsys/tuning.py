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
from pigen.recsys.config import ALSConfig, ValueMapping, Weighting
from pigen.recsys.evaluation import evaluate, format_metrics_table, relevant_only
from pigen.recsys.metrics import METRIC_NAMES
from pigen.recsys.split_plan import SplitPlan
from pigen.recsys.splits import Split, SplitKind

SearchMode = Literal["grid", "random"]


class SearchSpace(TypedConfig):
    """Values to try per ALSConfig field; other fields keep the base config's value.

    Wide enough to find what wins under different protocols: the value mapping
    (raw stars, liked-only, or low stars as dislikes), factors up to 512 (large
    embeddings need large regularization; Rendle et al., RecSys 2022) and
    regularization and alpha over three decades each. The grid is large (every combination), so
    ``pigen recsys tune`` samples it at random by default. Fields that only
    apply to one choice (``bm25_*`` to ``weighting="bm25"``, ``value_offset``
    to ``value_mapping="offset"``, ``binary_threshold`` to ``"binary"``) vary
    only for those candidates; ``"offset"`` pairs only with raw weighting.
    Every field must offer at least one value; each value is checked by
    building the candidates as :class:`ALSConfig`.
    """

    factors: tuple[int, ...] = Field(default=(32, 64, 128, 256, 512), min_length=1)
    regularization: tuple[float, ...] = Field(
        default=(0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0), min_length=1)
    alpha: tuple[float, ...] = Field(default=(0.5, 1.0, 2.0, 5.0, 10.0, 30.0), min_length=1)
    iterations: tuple[int, ...] = Field(default=(15,), min_length=1)
    weighting: tuple[Weighting, ...] = Field(default=("raw", "tfidf"), min_length=1)
    value_mapping: tuple[ValueMapping, ...] = Field(default=("raw", "binary", "offset"),
                                                    min_length=1)
    value_offset: tuple[float, ...] = Field(default=(2.5, 3.0), min_length=1)
    binary_threshold: tuple[float, ...] = Field(default=(4.0,), min_length=1)
    bm25_k1: tuple[float, ...] = Field(default=(100.0,), min_length=1)
    bm25_b: tuple[float, ...] = Field(default=(0.8,), min_length=1)

    @model_validator(mode="after")
    def _check_candidates(self) -> SearchSpace:
        """Building every candidate once validates each value against ALSConfig."""
        if not self.grid(ALSConfig()):
            raise ValueError("no valid candidate: value_mapping 'offset' needs weighting 'raw'")
        return self

    def grid(self, base: ALSConfig) -> list[ALSConfig]:
        """Every combination, in a fixed order, duplicates removed."""
        candidates: dict[ALSConfig, None] = {}
        names = list(type(self).model_fields)
        defaults = ALSConfig()
        for values in itertools.product(*(getattr(self, name) for name in names)):
            changes = dict(zip(names, values, strict=True))
            if changes["value_mapping"] == "offset" and changes["weighting"] != "raw":
                continue
            for name, (switch, choice) in _ONLY_WITH.items():
                if changes[switch] != choice:  # not this candidate's: the neutral default
                    changes[name] = getattr(defaults, name)
            candidates[base.replace(**changes)] = None
        return list(candidates)

    def sample(self, base: ALSConfig, count: int, seed: int) -> list[ALSConfig]:
        """``count`` distinct grid points drawn with ``seed`` (the same seed, the same draw)."""
        grid = self.grid(base)
        chosen = np.random.default_rng(seed).choice(len(grid), min(count, len(grid)),
                                                    replace=False)
        return [grid[i] for i in chosen]


# Fields that only mean something under one choice of another field.
_ONLY_WITH = {
    "bm25_k1": ("weighting", "bm25"),
    "bm25_b": ("weighting", "bm25"),
    "value_offset": ("value_mapping", "offset"),
    "binary_threshold": ("value_mapping", "binary"),
}


# Eight candidates for smoke runs (``--quick``): seconds, not minutes.
QUICK_SPACE = SearchSpace(
    factors=(32, 64), regularization=(10.0, 20.0), alpha=(0.5, 1.0), weighting=("raw",),
    value_mapping=("raw",),
)


@dataclass(frozen=True)
class Trial:
    """One candidate's validation metrics and fit time."""

    config: ALSConfig
    metrics: dict[str, float]  # the mean over folds
    fit_seconds: float
    fold_metrics: tuple[dict[str, float], ...] = ()  # fold 1 (the latest carving) first


@dataclass(frozen=True)
class TuningResult:
    """All trials, best first by ``metric``."""

    metric: str  # e.g. "ndcg@10"
    trials: tuple[Trial, ...]

    @property
    def best(self) -> ALSConfig:
        return self.trials[0].config

    def best_on_fold(self, fold: int) -> Trial:
        """The trial one validation fold alone would pick (0: the latest carving).

        Earlier trials win ties, as in the mean's ranking; what a single-fold tuner
        would have chosen, from the same fits.
        """
        if not self.trials or fold >= len(self.trials[0].fold_metrics):
            raise IndexError(f"no fold {fold} in these trials")
        return max(self.trials, key=lambda t: t.fold_metrics[fold][self.metric])

    def table(self, top: int = 10) -> str:
        """The ``top`` trials as a text table (one row per config, best first)."""
        rows = {
            f"{i + 1:>2}. {_label(trial.config)}": {**trial.metrics, "fit s": trial.fit_seconds}
            for i, trial in enumerate(self.trials[:top])
        }
        return format_metrics_table(rows)


def _label(config: ALSConfig) -> str:
    bm25 = f" k1={config.bm25_k1:g} b={config.bm25_b:g}" if config.weighting == "bm25" else ""
    values = {"raw": "", "offset": f" offset={config.value_offset:g}",
              "binary": f" >={config.binary_threshold:g}", "log": " log"}[config.value_mapping]
    return (f"f={config.factors} reg={config.regularization:g} alpha={config.alpha:g} "
            f"it={config.iterations} {config.weighting}{bm25}{values}")


def validation_split(split: Split, plan: SplitPlan | SplitKind, fraction: float = 0.2,
                     seed: int = 0) -> Split:
    """Carve validation out of ``split``'s train rows (same id maps; test untouched).

    A plain kind uses ``fraction`` and ``seed``; a :class:`SplitPlan` is used as it is.
    """
    if not isinstance(plan, SplitPlan):
        plan = SplitPlan(plan, test_fraction=fraction, seed=seed)
    return plan.apply(split.train_interactions, split.users, split.items)


def tune_als(
    split: Split,
    kind: SplitPlan | SplitKind,
    space: SearchSpace | None = None,
    base: ALSConfig | None = None,
    mode: SearchMode = "grid",
    trials: int = 40,
    metric: str = "ndcg",
    k: int = 10,
    seed: int = 0,
    progress: bool = True,
    relevant_from: float | None = None,
    folds: int = 1,
) -> TuningResult:
    """Search ALS configs on validation carved from ``split``'s train; test is never read.

    ``kind`` (a split kind or a :class:`SplitPlan`) should match how ``split``
    was made, so validation mimics test. ``mode="random"`` tries ``trials``
    distinct grid points drawn with ``seed``. With ``relevant_from`` only
    validation values >= it count as hits, as in the evaluation. ``folds`` > 1
    carves validation again out of the previous fold's train (e.g. each user's
    5 ratings before the last 5) and ranks by the mean over folds: more
    held-out events, less luck in which config wins. A candidate whose value
    mapping leaves nothing to fit (a binary threshold above every value) is
    skipped; if all are, that is a ValueError.
    """
    if folds < 1:
        raise ValueError(f"folds must be >= 1, got {folds}")
    if metric not in METRIC_NAMES:
        raise ValueError(f"metric must be one of {METRIC_NAMES}, got {metric!r}")
    if mode not in ("grid", "random"):
        raise ValueError(f"mode must be 'grid' or 'random', got {mode!r}")
    space = space if space is not None else SearchSpace()
    base = base if base is not None else ALSConfig()
    candidates = space.grid(base) if mode == "grid" else space.sample(base, trials, seed)
    plan = kind if isinstance(kind, SplitPlan) else SplitPlan(kind, seed=seed)
    inners = [validation_split(split, plan)]
    while len(inners) < folds:
        inners.append(validation_split(inners[-1], plan))
    key = f"{metric}@{k}"

    results: list[Trial] = []
    bar = tqdm(candidates, desc=f"tune ALS ({plan.label})", disable=not progress, leave=False)
    for config in bar:
        start = time.perf_counter()
        try:
            per_fold = [_fit_and_score(config, inner, relevant_from, k) for inner in inners]
        except ValueError as error:
            if "no interactions left" in str(error):
                continue  # this mapping drops every value of this data set
            raise
        seconds = (time.perf_counter() - start) / folds
        metrics = {name: float(np.mean([m[name] for m in per_fold])) for name in per_fold[0]}
        results.append(Trial(config, metrics, seconds, tuple(per_fold)))
        bar.set_postfix({f"best {key}": f"{max(t.metrics[key] for t in results):.4f}"})
    if not results:
        raise ValueError("every candidate's value mapping dropped all interactions")
    # Stable: among equal scores the earlier (smaller, cheaper) candidate wins.
    results.sort(key=lambda trial: -trial.metrics[key])
    return TuningResult(key, tuple(results))


def _fit_and_score(config: ALSConfig, inner: Split, relevant_from: float | None,
                   k: int) -> dict[str, float]:
    model = ALSRecommender(config).fit(inner.train, inner.users, inner.items)
    return evaluate(model, inner.train, relevant_only(inner.test, relevant_from), k).as_dict()
