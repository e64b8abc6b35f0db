"""Rows per table: the cheap facts about the store that `pigen db status` prints."""

from __future__ import annotations

from sqlalchemy import Engine, func, select

from pigen.data.schema import Base


def table_counts(engine: Engine) -> dict[str, int]:
    """Rows per table, in schema order."""
    with engine.connect() as connection:
        return {
            name: int(connection.execute(select(func.count()).select_from(table)).scalar_one())
            for name, table in Base.metadata.tables.items()
        }
