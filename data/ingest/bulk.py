"""Bulk writes without per-row ORM objects: executemany on SQLite, COPY on PostgreSQL.

Both insert with the natural key's ON CONFLICT DO NOTHING, so a re-ingest adds
nothing, and both run inside the caller's transaction, so a failure writes nothing.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
import pandas as pd
from pigen.data.schema import Interaction, User, utcnow
from sqlalchemy import Connection, insert, select

INTERACTION_COLUMNS = ("user_id", "item_id", "kind", "value", "occurred_at")


def existing_ids(connection: Connection, table: type[User], external_ids: Sequence[str]
                 ) -> pd.Series:
    """``external_id -> primary key`` for the given ids that are already stored."""
    wanted = pd.Index(pd.unique(np.asarray(external_ids, dtype=object)))
    rows = connection.execute(select(table.external_id, table.id)).all()
    stored = pd.Series([r[1] for r in rows], index=pd.Index([r[0] for r in rows]),
                       dtype=np.int64)
    return stored[stored.index.isin(wanted)]


def ensure_users(connection: Connection, external_ids: Sequence[str]) -> tuple[pd.Series, int]:
    """Create the users that do not exist yet; returns (id map, number created)."""
    known = existing_ids(connection, User, external_ids)
    unique = pd.unique(np.asarray(external_ids, dtype=object))
    missing = [u for u in unique if u not in known.index]
    if missing:
        now = utcnow()
        connection.execute(
            insert(User), [{"external_id": external, "created_at": now} for external in missing]
        )
        known = existing_ids(connection, User, external_ids)
    return known, len(missing)


def insert_interactions(connection: Connection, frame: pd.DataFrame) -> int:
    """Insert rows of ``frame`` (INTERACTION_COLUMNS, primary keys resolved).

    Returns how many rows were new; rows whose natural key exists are skipped.
    """
    if frame.empty:
        return 0
    if connection.dialect.name == "postgresql":
        return _copy_interactions_postgres(connection, frame)
    rows = list(
        zip(
            frame["user_id"].to_numpy(np.int64).tolist(),
            frame["item_id"].to_numpy(np.int64).tolist(),
            frame["kind"].tolist(),
            frame["value"].to_numpy(np.float64).tolist(),
            frame["occurred_at"].to_numpy(np.int64).tolist(),
            strict=True,
        )
    )
    result = connection.exec_driver_sql(
        f"INSERT OR IGNORE INTO {Interaction.__tablename__} ({', '.join(INTERACTION_COLUMNS)}) "
        "VALUES (?, ?, ?, ?, ?)",
        rows,
    )
    return int(result.rowcount)


def _copy_interactions_postgres(connection: Connection, frame: pd.DataFrame) -> int:
    # COPY into a transaction-local staging table, then one set-based INSERT
    # that skips natural-key conflicts: far fewer round trips than executemany.
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    cursor.execute(
        "CREATE TEMP TABLE staging_interactions (user_id bigint, item_id bigint, "
        "kind varchar(16), value double precision, occurred_at bigint) ON COMMIT DROP"
    )
    buffer = io.StringIO()
    frame.loc[:, list(INTERACTION_COLUMNS)].to_csv(buffer, index=False, header=False)
    with cursor.copy(
        "COPY staging_interactions (user_id, item_id, kind, value, occurred_at) "
        "FROM STDIN WITH (FORMAT csv)"
    ) as copy:
        copy.write(buffer.getvalue())
    cursor.execute(
        f"INSERT INTO {Interaction.__tablename__} ({', '.join(INTERACTION_COLUMNS)}) "
        "SELECT user_id, item_id, kind, value, occurred_at FROM staging_interactions "
        "ON CONFLICT DO NOTHING"
    )
    inserted = cursor.rowcount
    cursor.execute("DROP TABLE staging_interactions")
    return int(inserted)
