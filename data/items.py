"""The catalog as stored, for models that need item attributes (the condition bridge)."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Engine, func, select

from pigen.data.conditions import ConditionLayout
from pigen.data.schema import Item

ITEM_COLUMNS = ("item_id", "category", "colour", "colour_name", "pattern", "image_path")


def read_items_frame(engine: Engine) -> pd.DataFrame:
    """One row per stored item (ITEM_COLUMNS), in primary-key order; missing values are None."""
    with engine.connect() as connection:
        rows = connection.execute(select(
            Item.external_id, Item.category, Item.colour, Item.colour_name, Item.pattern,
            Item.image_path).order_by(Item.id)).all()
    # object columns: pandas 3 would read a missing colour or pattern as NaN, not None.
    frame = pd.DataFrame([tuple(r) for r in rows], columns=list(ITEM_COLUMNS), dtype=object)
    # Items made by `ingest ratings --create-items` store category "": no category.
    frame["category"] = pd.Series([c or None for c in frame["category"]], dtype=object)
    return frame


def catalog_stamp(engine: Engine) -> tuple[int, int | None]:
    """(item count, highest row id): one index-only query that changes when items are
    added or removed, so a server can tell its catalog copy is stale without reading it.
    Changed fields of stored items (``--on-conflict update``) do not change it.
    """
    with engine.connect() as connection:
        count, highest = connection.execute(select(func.count(), func.max(Item.id))).one()
    return int(count), None if highest is None else int(highest)


def catalog_layout(items: pd.DataFrame) -> ConditionLayout:
    """The built-in layout when the catalog fits it, else one from the catalog's own names.

    Keeping the built-in order whenever possible means a generator trained on the
    built-in catalog can be conditioned on this store's tastes.
    """
    builtin = ConditionLayout.builtin()
    categories = set(items["category"].dropna())
    patterns = set(items["pattern"].dropna())
    if categories <= set(builtin.categories) and patterns <= set(builtin.patterns):
        return builtin
    return ConditionLayout(tuple(sorted(categories)), tuple(sorted(patterns)))


def unknown_names(items: pd.DataFrame, layout: ConditionLayout) -> dict[str, list[str]]:
    """Catalog categories and patterns ``layout`` lacks: {"categories": [...], ...}.

    Serving maps the catalog into the active generator's layout by name; items
    with a name it lacks drop out of that part of shoppers' taste (the rest of
    their attributes still count). Empty when every name is known.
    """
    found = {
        "categories": sorted(set(items["category"].dropna()) - set(layout.categories)),
        "patterns": sorted(set(items["pattern"].dropna()) - set(layout.patterns)),
    }
    return {part: names for part, names in found.items() if names}
