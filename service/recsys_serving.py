"""Recommender jobs that need both the store and the model: train + register, serve one user."""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine

from pigen.data.history import UserHistory, latest_interaction_time, read_user_history
from pigen.data.model_registry import (
    ModelVersionInfo,
    active_model_version,
    register_model_version,
)
from pigen.data.ratings_matrix import read_user_items
from pigen.recsys.als import ALSRecommender
from pigen.recsys.config import ALSConfig
from pigen.recsys.user_factors import FactorSource, UserFactor, resolve_user_factor, top_items

MODEL_KIND = "als"


def train_and_register(engine: Engine, models_dir: Path, config: ALSConfig,
                       say: Callable[[str], None] = lambda _: None) -> ModelVersionInfo:
    """DB -> CSR -> fit -> save -> register and activate, in that order.

    The file is written completely before the version row exists, and activation
    is one transaction, so a crash at any point leaves the previous version active.
    """
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
    model = ALSRecommender(config).fit(ratings.user_items, ratings.users, ratings.items)
    fit_seconds = time.perf_counter() - fit_started
    say(f"fitted ALS ({config.factors} factors, {config.iterations} iterations) "
        f"in {fit_seconds:.1f}s")
    models_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = (models_dir / f"als-{stamp}-{uuid.uuid4().hex[:6]}.npz").resolve()
    partial = path.with_suffix(".partial.npz")
    model.save(partial)
    partial.replace(path)  # atomic: a reader never sees half a file
    metrics = {
        "users": len(ratings.users), "items": len(ratings.items),
        "ratings": int(ratings.user_items.nnz), "trained_until": trained_until,
        "read_seconds": round(read_seconds, 3), "fit_seconds": round(fit_seconds, 3),
        "total_seconds": round(time.perf_counter() - started, 3),
    }
    # The file's sha256 is registered with it: a loader refuses other bytes under this id.
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return register_model_version(engine, MODEL_KIND, path, {**config.to_dict(), "sha256": digest},
                                  metrics)


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
    version = active_model_version(engine, MODEL_KIND)
    if version is None:
        raise LookupError("no active ALS model: run `pigen recsys train` first")
    return version, ALSRecommender.load(version.path)


def recommend_for_user(engine: Engine, user_id: str, n: int = 10, explain: bool = False,
                       model: tuple[ModelVersionInfo, ALSRecommender] | None = None
                       ) -> UserRecommendations:
    """Top ``n`` for one user; ratings newer than the model are folded in, not ignored."""
    version, als = model or load_active_als(engine)
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
