"""Recommender jobs that need both the store and the model: train + register, serve one user.

Two purposes, each its own model kind in the registry (versioned, activated and
rolled back alike, one active version each):

* **ranking** (kind ``"ranking"``): what ``/recommendations`` and the catalog
  control arm list. Any :class:`~pigen.recsys.base.Recommender` (ALS tuned for
  ranking metrics, or the popularity model); the file's own kind says which.
* **taste** (kind ``"als"``): what images are made from. Always ALS (the
  bridge needs factors), trained with ``recsys/configs/als_taste.json``.

Old stores: every ``"als"`` version counts as a taste version. The kind is
unchanged, so generated-image and campaign rows that name an ``"als"`` version
keep their meaning; the demo trains with the taste config since value
mappings existed. A store with no active ranking version recommends from the
taste model, as it did before ranking models existed.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from sqlalchemy import Engine

from pigen.data.history import UserHistory, latest_interaction_time, read_user_history
from pigen.data.model_registry import (
    ModelVersionInfo,
    active_model_version,
    register_model_version,
)
from pigen.data.ratings_matrix import read_user_items
from pigen.recsys.als import ALSRecommender
from pigen.recsys.base import Recommender
from pigen.recsys.config import ALSConfig
from pigen.recsys.model_kinds import build_recommender, load_recommender
from pigen.recsys.user_factors import (
    FactorSource,
    UserFactor,
    history_row,
    resolve_user_factor,
    top_items,
)

Purpose = Literal["ranking", "taste"]
PURPOSES: tuple[Purpose, ...] = ("ranking", "taste")
TASTE_KIND = "als"  # the registry kind every store's ALS versions already have
RANKING_KIND = "ranking"
PURPOSE_KINDS: dict[Purpose, str] = {"ranking": RANKING_KIND, "taste": TASTE_KIND}
#: The taste model's kind, under the name older importers use.
MODEL_KIND = TASTE_KIND


def train_and_register(engine: Engine, models_dir: Path, config: ALSConfig | None = None,
                       say: Callable[[str], None] = lambda _: None, *,
                       purpose: Purpose = "taste", model: str = ALSRecommender.kind
                       ) -> ModelVersionInfo:
    """DB -> CSR -> fit -> save -> register and activate as ``purpose``, in that order.

    ``model`` is the file's model kind (``"als"`` or, for ranking only,
    ``"popularity"``); ``config`` is ALS's (None: the defaults). ``purpose``
    defaults to taste, what the registry's ``"als"`` kind always held.

    The file is written completely before the version row exists, and activation
    is one transaction, so a crash at any point leaves the previous version active.

    Raises
    ------
    ValueError
        No ratings, an unknown purpose or model, or a taste model that is not ALS.
    """
    if purpose not in PURPOSE_KINDS:
        raise ValueError(f"purpose must be one of {', '.join(PURPOSES)}, not {purpose!r}")
    if purpose == "taste" and model != ALSRecommender.kind:
        raise ValueError(f"the taste model must be ALS (images need its factors), not {model!r}")
    if model == ALSRecommender.kind and config is None:
        config = ALSConfig()
    recommender = build_recommender(model, config)
    started = time.perf_counter()
    trained_until = latest_interaction_time(engine)
    ratings = read_user_items(engine)
    if ratings.user_items.nnz == 0:
        raise ValueError("the store has no ratings to train on: run `pigen demo-data` or "
                         "`pigen ingest ratings FILE` first")
    read_seconds = time.perf_counter() - started
    say(f"read {ratings.user_items.nnz:,} ratings: {len(ratings.users):,} users x "
        f"{len(ratings.items):,} items in {read_seconds:.1f}s")
    fit_started = time.perf_counter()
    recommender.fit(ratings.user_items, ratings.users, ratings.items)
    fit_seconds = time.perf_counter() - fit_started
    settings = (f" ({config.factors} factors, {config.iterations} iterations)"
                if config is not None else "")
    say(f"fitted the {purpose} model, {model}{settings}, in {fit_seconds:.1f}s")
    models_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = (models_dir / f"{purpose}-{model}-{stamp}-{uuid.uuid4().hex[:6]}.npz").resolve()
    partial = path.with_suffix(".partial.npz")
    recommender.save(partial)
    partial.replace(path)  # atomic: a reader never sees half a file
    metrics = {
        "users": len(ratings.users), "items": len(ratings.items),
        "ratings": int(ratings.user_items.nnz), "trained_until": trained_until,
        "read_seconds": round(read_seconds, 3), "fit_seconds": round(fit_seconds, 3),
        "total_seconds": round(time.perf_counter() - started, 3),
    }
    # The file's sha256 is registered with it: a loader refuses other bytes under this id.
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return register_model_version(
        engine, PURPOSE_KINDS[purpose], path,
        {**recommender.config_dict(), "model": model, "sha256": digest}, metrics)


@dataclass(frozen=True)
class RecommendedItem:
    item_id: str
    score: float
    because: tuple[tuple[str, float], ...]  # (rated item id, contribution), strongest first


@dataclass(frozen=True)
class UserRecommendations:
    user_id: str
    source: FactorSource
    history_size: int
    model_version: int
    items: tuple[RecommendedItem, ...]


def load_active_als(engine: Engine) -> tuple[ModelVersionInfo, ALSRecommender]:
    """The active taste model (what images are made from)."""
    version = active_model_version(engine, TASTE_KIND)
    if version is None:
        raise LookupError("no active taste model: run `pigen recsys train --purpose taste` "
                          "first")
    return version, ALSRecommender.load(version.path)


def load_active_ranking(engine: Engine) -> tuple[ModelVersionInfo, Recommender]:
    """The active ranking model, or the taste model in a store that has none yet."""
    version = active_model_version(engine, RANKING_KIND)
    if version is None:
        version = active_model_version(engine, TASTE_KIND)
    if version is None:
        raise LookupError("no active recommender: run `pigen recsys train` first")
    return version, load_recommender(version.path)


def recommend_for_user(engine: Engine, user_id: str, n: int = 10, explain: bool = False,
                       model: tuple[ModelVersionInfo, Recommender] | None = None
                       ) -> UserRecommendations:
    """Top ``n`` for one user from ``model`` (default: the active ranking model).

    ALS folds in ratings newer than the model and can explain; a model without
    user factors (popularity) answers from the history alone: source ``"prior"``
    when the shopper rated nothing it knows, else ``"model"``.
    """
    version, recommender = model or load_active_ranking(engine)
    if not isinstance(recommender, ALSRecommender):
        return _recommend_without_factors(engine, user_id, n, version, recommender)
    als = recommender
    _, user = _user_factor(engine, user_id, version, als)
    rows, scores = top_items(als, user, n)
    items = []
    for row, score in zip(rows, scores, strict=True):
        if row < 0:  # fewer eligible items than asked for
            break
        because: tuple[tuple[str, float], ...] = ()
        if explain and user.history.nnz:
            explanation = als.explain(user.history, int(row), n=3)
            because = tuple((c.item_id, c.weight) for c in explanation.contributions)
        items.append(RecommendedItem(als.items.id_of(int(row)), float(score), because))
    return UserRecommendations(user_id, user.source, int(user.history.nnz), version.id,
                               tuple(items))


def _recommend_without_factors(engine: Engine, user_id: str, n: int, version: ModelVersionInfo,
                               recommender: Recommender) -> UserRecommendations:
    history = read_user_history(engine, user_id)
    row = history_row(recommender.items, history.item_ids, history.values)  # (1, items)
    rows, scores = recommender.recommend_from_items(row, n)  # (1, n) each
    items = tuple(RecommendedItem(recommender.items.id_of(int(r)), float(s), ())
                  for r, s in zip(rows[0], scores[0], strict=True) if r >= 0)
    source: FactorSource = "model" if row.nnz else "prior"
    return UserRecommendations(user_id, source, int(row.nnz), version.id, items)


@dataclass(frozen=True)
class FactorState:
    """Where a shopper's factor comes from now, and how many ratings it rests on."""

    user_id: str
    source: FactorSource
    ratings: int


def factor_state(engine: Engine, user_id: str,
                 model: tuple[ModelVersionInfo, ALSRecommender]) -> FactorState:
    """The serving path's own decision for ``user_id`` (model, folded in, or prior)."""
    history, user = _user_factor(engine, user_id, *model)
    return FactorState(user_id, user.source, len(history))


def _user_factor(engine: Engine, user_id: str, version: ModelVersionInfo,
                 als: ALSRecommender) -> tuple[UserHistory, UserFactor]:
    """The user's history and factor as served: ratings newer than the model are folded in."""
    history = read_user_history(engine, user_id)
    trained_until = int(version.metrics.get("trained_until", 0))
    return history, resolve_user_factor(als, user_id, history.item_ids, history.values,
                                        has_newer=history.newer_than(trained_until))
