"""Why a shopper sees what they see: the sentence, and the rated items behind it.

Also the usual control arm of an image experiment: the catalog photos of the
shopper's top recommendations, explained the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import Engine

from pigen.data.model_registry import ModelVersionInfo
from pigen.recsys.base import Recommender
from pigen.recsys.user_factors import FactorSource
from pigen.service.recsys_serving import recommend_for_user
from pigen.service.runtime import CatalogItem

#: Rated items an explanation lists, and how many of them its sentence names.
LISTED_ITEMS, NAMED_ITEMS = 5, 3


@dataclass(frozen=True)
class Reasons:
    summary: str
    contributing: tuple[tuple[str, float], ...]  # (rated item id, weight), strongest first


@dataclass(frozen=True)
class CatalogPicks:
    source: FactorSource
    item_ids: tuple[str, ...]  # best first
    reasons: Reasons


NO_RATINGS = "No ratings from you yet: these follow what is popular with all shoppers."
#: A shopper who rated every item the model knows: nothing is left to show.
NOTHING_LEFT = ("You have rated every item we could recommend: nothing new to show "
                "until the catalog grows.")
FROM_RATINGS = "Made from your ratings."


def explain(catalog: Mapping[str, CatalogItem], source: str,
            contributing: tuple[tuple[str, float], ...], nothing_left: bool = False
            ) -> Reasons:
    """The sentence shown under a shopper's images, from the rated items that made them.

    ``nothing_left``: the shopper has ratings but no item is left to recommend.
    """
    listed = tuple((item_id, round(float(weight), 6))
                   for item_id, weight in contributing[:LISTED_ITEMS])
    if source == "prior":
        summary = NO_RATINGS
    elif nothing_left:
        summary = NOTHING_LEFT
    elif not listed:  # ratings, but none of them pulls towards what is shown
        summary = FROM_RATINGS
    else:
        named = ", ".join(f"{item_id} ({_describe(catalog.get(item_id))})"
                          for item_id, _ in listed[:NAMED_ITEMS])
        summary = f"Made from your ratings of {named}."
    return Reasons(summary, listed)


def catalog_picks(engine: Engine, catalog: Mapping[str, CatalogItem], user_id: str, n: int,
                  model: tuple[ModelVersionInfo, Recommender]) -> CatalogPicks:
    """The shopper's top ``n`` catalog items (the ranking model's), with the rated items
    behind them all."""
    result = recommend_for_user(engine, user_id, n, True, model)
    because = {i: w for r in result.items for i, w in r.because}
    contributing = tuple(sorted(because.items(), key=lambda kv: -kv[1]))
    return CatalogPicks(result.source, tuple(r.item_id for r in result.items),
                        explain(catalog, result.source, contributing,
                                nothing_left=not result.items))


def _describe(item: CatalogItem | None) -> str:
    """``navy striped Dress``; an item gone from the catalog is just ``unknown``."""
    if item is None:
        return "unknown"
    return " ".join(part for part in (item.colour_name, item.pattern, item.category) if part)
