"""Bulk writes without per-row ORM objects: executemany on SQLite, COPY on PostgreSQL.

Both skip rows whose natural key is already stored, so a re-ingest adds
nothing, and both run inside the caller's transaction, so a failure writes nothing.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
from sqlalchemy import Connection, select

from pigen.data.schema import Interaction, User, utcnow

INTERACTION_COLUMNS = ("user_id", "item_id", "kind", "value", "occurred_at")


@dataclass(frozen=True)
class InteractionRows:
    """Rows ready for the interactions table: primary keys resolved, in key order."""

    user_ids: np.ndarray  # (N,) int64 users.id
    item_ids: np.ndarray  # (N,) int64 items.id
    kinds: np.ndarray  # (N,) object str
    values: np.ndarray  # (N,) float64
    occurred_at: np.ndarray  # (N,) int64 unix seconds

    def __len__(self) -> int:
        return len(self.values)


def ensure_users(connection: Connection, external_ids: pa.ChunkedArray | pa.Array
                 ) -> tuple[np.ndarray, int]:
    """Create the users that do not exist yet.

    Returns each row's ``users.id`` (aligned with ``external_ids``) and how many
    users were created.
    """
    unique = pc.unique(external_ids)
    stored, pks = _stored_users(connection)
    missing = pc.filter(unique, pc.invert(pc.is_in(unique, stored))).to_pylist()
    if missing:
        if connection.dialect.name == "postgresql":
            # One statement for any number of users instead of a round trip each.
            connection.exec_driver_sql(
                "INSERT INTO users (external_id, created_at) "
                "SELECT unnest(%(ids)s::text[]), now() ON CONFLICT DO NOTHING",
                {"ids": missing},
            )
        else:
            # Bind the timestamp once through the column type, so it is stored
            # exactly as the ORM would store it.
            column_type = User.__table__.c.created_at.type.dialect_impl(connection.dialect)
            bind = column_type.bind_processor(connection.dialect)
            stamp = bind(utcnow()) if bind else utcnow()
            connection.exec_driver_sql(
                "INSERT OR IGNORE INTO users (external_id, created_at) VALUES (?, ?)",
                [(external, stamp) for external in missing],
            )
        stored, pks = _stored_users(connection)
    positions = pc.index_in(external_ids, stored).to_numpy(zero_copy_only=False)
    return pks[positions.astype(np.int64)], len(missing)


def _stored_users(connection: Connection) -> tuple[pa.Array, np.ndarray]:
    rows = connection.execute(select(User.external_id, User.id)).all()
    return (pa.array([r[0] for r in rows], pa.string()),
            np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows)))


def insert_interactions(connection: Connection, rows: InteractionRows) -> int:
    """Insert ``rows``; returns how many were new (existing natural keys are skipped)."""
    if len(rows) == 0:
        return 0
    if connection.dialect.name == "postgresql":
        return _copy_interactions_postgres(connection, rows)
    # A bigger page cache for this connection keeps the key B-tree in memory.
    connection.exec_driver_sql("PRAGMA cache_size = -262144")  # KiB: 256 MiB
    result = connection.exec_driver_sql(
        f"INSERT OR IGNORE INTO {Interaction.__tablename__} ({', '.join(INTERACTION_COLUMNS)}) "
        "VALUES (?, ?, ?, ?, ?)",
        list(zip(rows.user_ids.tolist(), rows.item_ids.tolist(), rows.kinds.tolist(),
                 rows.values.tolist(), rows.occurred_at.tolist(), strict=True)),
    )
    return int(result.rowcount)


def _copy_interactions_postgres(connection: Connection, rows: InteractionRows) -> int:
    # COPY into a transaction-local staging table, then one set-based INSERT of
    # the rows whose natural key is new. An anti-join instead of ON CONFLICT:
    # speculative insertion made a million-row load several times slower. The
    # table lock (readers still proceed) serialises concurrent ingests, so the
    # anti-join cannot race another writer.
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    cursor.execute(
        "CREATE TEMP TABLE staging_interactions (user_id bigint, item_id bigint, "
        "kind varchar(16), value double precision, occurred_at bigint) ON COMMIT DROP"
    )
    table = pa.table({"user_id": rows.user_ids, "item_id": rows.item_ids,
                      "kind": pa.array(rows.kinds, pa.string()), "value": rows.values,
                      "occurred_at": rows.occurred_at})
    buffer = io.BytesIO()
    pa_csv.write_csv(table, buffer, pa_csv.WriteOptions(include_header=False))
    with cursor.copy(
        "COPY staging_interactions (user_id, item_id, kind, value, occurred_at) "
        "FROM STDIN WITH (FORMAT csv)"
    ) as copy:
        copy.write(buffer.getbuffer())
    cursor.execute("ANALYZE staging_interactions")
    cursor.execute(f"LOCK TABLE {Interaction.__tablename__} IN SHARE ROW EXCLUSIVE MODE")
    cursor.execute(
        f"INSERT INTO {Interaction.__tablename__} ({', '.join(INTERACTION_COLUMNS)}) "
        "SELECT s.user_id, s.item_id, s.kind, s.value, s.occurred_at "
        "FROM staging_interactions s WHERE NOT EXISTS ("
        f"  SELECT 1 FROM {Interaction.__tablename__} i WHERE i.user_id = s.user_id"
        "   AND i.item_id = s.item_id AND i.kind = s.kind AND i.occurred_at = s.occurred_at)"
        " ORDER BY s.user_id, s.item_id, s.kind, s.occurred_at"
    )
    inserted = cursor.rowcount
    cursor.execute("DROP TABLE staging_interactions")
    return int(inserted)
