"""Factories for test databases: tiny catalogs and rating files, and a snapshot
of every table to prove a rejected file changed nothing."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sqlalchemy import Engine, select

from pigen.data.ingest import ingest_catalog_frame
from pigen.data.schema import Base


def tiny_catalog(n_items: int = 6) -> pd.DataFrame:
    categories = ["Trouser", "Dress", "Bag"]
    patterns = ["solid", "striped"]
    return pd.DataFrame({
        "item_id": [f"i{k}" for k in range(n_items)],
        "category": [categories[k % 3] for k in range(n_items)],
        "colour": ["#ff0000" if k % 2 else "#0000ff" for k in range(n_items)],
        "pattern": [patterns[k % 2] for k in range(n_items)],
    })


def with_catalog(engine: Engine, n_items: int = 6) -> Engine:
    ingest_catalog_frame(engine, tiny_catalog(n_items))
    return engine


def write_csv(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def snapshot(engine: Engine) -> dict[str, list[tuple]]:
    """Every row of every table, sorted: equal snapshots mean nothing changed."""
    with engine.connect() as connection:
        return {
            name: sorted(map(tuple, connection.execute(select(table)).all()), key=repr)
            for name, table in Base.metadata.tables.items()
        }
