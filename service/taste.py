"""A user's taste over conditions and the condition vectors sampled from it.

Composes the store (history, catalog), the active ALS model and the bridge in
``pigen.recsys.conditioning``; this is what the API and campaigns will call.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Engine

from pigen.data.conditions import ConditionLayout
from pigen.data.history import read_user_history
from pigen.data.items import catalog_layout, read_items_frame
from pigen.data.model_registry import ModelVersionInfo, active_model_version
from pigen.recsys.als import ALSRecommender
from pigen.recsys.condition_sampling import ConditionSample, sample_conditions, shopper_seed
from pigen.recsys.conditioning import (
    TasteProfile,
    liked_weights,
    population_profile,
    taste_profile,
)
from pigen.recsys.item_attributes import ItemAttributes
from pigen.recsys.user_factors import FactorSource, resolve_user_factor
from pigen.service.generator_serving import MODEL_KIND as GENERATOR_KIND
from pigen.service.recsys_serving import load_active_als


@dataclass(frozen=True)
class UserTaste:
    user_id: str
    source: FactorSource
    model_version: int
    profile: TasteProfile
    samples: tuple[ConditionSample, ...]


def taste_for_user(engine: Engine, user_id: str, n: int = 8, seed: int = 0,
                   diversity: float = 1.0,
                   model: tuple[ModelVersionInfo, ALSRecommender] | None = None,
                   attributes: ItemAttributes | None = None) -> UserTaste:
    """Profile ``user_id``'s taste and sample ``n`` conditions (reproducible under ``seed``).

    The draws and the images' noise seeds come from (user, seed, index): the same
    shopper and seed give the same images, two shoppers never share them.

    ``attributes`` is the catalog seen through ``model``'s item map; a service that
    holds it (built once per model) saves reading the catalog on every call.
    """
    version, als = model or load_active_als(engine)
    history = read_user_history(engine, user_id)
    user = resolve_user_factor(als, user_id, history.item_ids, history.values,
                               has_newer=history.newer_than(
                                   int(version.metrics.get("trained_until", 0))))
    if attributes is None:
        items = read_items_frame(engine)
        attributes = ItemAttributes.from_frame(items, als.items, served_layout(engine, items))
    if user.source == "prior":
        # Nothing known about this user: the population's mix, not a caricature of it.
        profile = population_profile(als.item_counts.astype(float), attributes)
    else:
        # Scores relative to the average user say what *this* user likes more
        # than everyone does.
        profile = taste_profile(user.factor, als.item_factors, attributes, rated=user.history,
                                baseline=als.user_factors.mean(axis=0),
                                own=liked_weights(als, user.history))
    samples = sample_conditions(profile, n, shopper_seed(seed, user_id), diversity=diversity)
    return UserTaste(user_id, user.source, version.id, profile, tuple(samples))


def served_layout(engine: Engine, items: pd.DataFrame) -> ConditionLayout:
    """The active generator's condition layout (its registry row says it); the catalog's
    own (:func:`~pigen.data.items.catalog_layout`) while no generator is registered.

    Conditions are sampled in the layout the images will be made in, so a
    generator trained on a store's own catalog gets its own names.
    """
    active = active_model_version(engine, GENERATOR_KIND)
    if active is not None and "layout" in active.config:
        return ConditionLayout.from_dict(active.config["layout"])
    return catalog_layout(items)
