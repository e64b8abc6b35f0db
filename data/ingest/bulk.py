"""Bulk writes without per-row ORM objects: executemany on SQLite, COPY on PostgreSQL.

Rows go to a transaction-local staging table first, so rows whose natural key
is already stored can be told apart: same value (skipped, a re-ingest adds
nothing) or another value (a conflict, handled as the caller chose). Everything
runs inside the caller's transaction, so a failure writes nothing.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
from sqlalchemy import Connection, select

from pigen.data.schema import Interaction, User, utcnow

INTERACTION_COLUMNS = ("user_id", "item_id", "kind", "value", "occurred_at")
#: What to do with a stored natural key whose value differs.
OnConflict = Literal["error", "skip", "update"]
ON_CONFLICT_CHOICES: tuple[OnConflict, ...] = ("error", "skip", "update")
_TABLE = Interaction.__tablename__
_SAME_KEY = ("i.user_id = s.user_id AND i.item_id = s.item_id AND i.kind = s.kind "
             "AND i.occurred_at = s.occurred_at")


@dataclass(frozen=True)
class InteractionRows:
    """Rows ready for the interactions table: primary keys resolved, in key order."""

    user_ids: np.ndarray  # (N,) int64 users.id
    item_ids: np.ndarray  # (N,) int64 items.id
    kinds: np.ndarray  # (N,) object str
    values: np.ndarray  # (N,) float64
    occurred_at: np.ndarray  # (N,) int64 unix seconds
    rows: np.ndarray  # (N,) int64 0-based row of the input file, for messages

    def __len__(self) -> int:
        return len(self.values)


@dataclass(frozen=True)
class Written:
    """What :func:`insert_interactions` did."""

    inserted: int
    updated: int
    conflicts: np.ndarray  # (C,) int64 input rows whose key is stored with another value


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


def insert_interactions(connection: Connection, rows: InteractionRows,
                        on_conflict: OnConflict = "error") -> Written:
    """Insert ``rows`` whose natural key is new; find (and maybe update) conflicting ones.

    With ``on_conflict="error"`` nothing is inserted when there are conflicts:
    the caller raises and the transaction rolls back.
    """
    if len(rows) == 0:
        return Written(0, 0, np.zeros(0, dtype=np.int64))
    postgres = connection.dialect.name == "postgresql"
    if postgres:
        _stage_postgres(connection, rows)
    else:
        _stage_sqlite(connection, rows)
    conflicts = np.fromiter(connection.exec_driver_sql(
        f"SELECT s.row_index FROM staging_interactions s JOIN {_TABLE} i ON {_SAME_KEY} "
        "WHERE i.value <> s.value").scalars(), dtype=np.int64)
    if len(conflicts) and on_conflict == "error":
        return Written(0, 0, conflicts)
    updated = 0
    if len(conflicts) and on_conflict == "update":
        updated = int(connection.exec_driver_sql(
            f"UPDATE {_TABLE} AS i SET value = s.value FROM staging_interactions s "
            f"WHERE {_SAME_KEY} AND i.value <> s.value").rowcount)
    columns = ", ".join(INTERACTION_COLUMNS)
    # An anti-join instead of ON CONFLICT on PostgreSQL: speculative insertion
    # made a million-row load several times slower.
    verb = "INSERT" if postgres else "INSERT OR IGNORE"
    inserted = connection.exec_driver_sql(
        f"{verb} INTO {_TABLE} ({columns}) SELECT {columns} FROM staging_interactions s "
        f"WHERE NOT EXISTS (SELECT 1 FROM {_TABLE} i WHERE {_SAME_KEY}) "
        "ORDER BY s.user_id, s.item_id, s.kind, s.occurred_at").rowcount
    connection.exec_driver_sql("DROP TABLE staging_interactions")
    return Written(int(inserted), updated, conflicts)


_STAGING_COLUMNS = ("row_index", *INTERACTION_COLUMNS)


def _stage_sqlite(connection: Connection, rows: InteractionRows) -> None:
    # A bigger page cache for this connection keeps the key B-tree in memory.
    connection.exec_driver_sql("PRAGMA cache_size = -262144")  # KiB: 256 MiB
    connection.exec_driver_sql("DROP TABLE IF EXISTS temp.staging_interactions")
    connection.exec_driver_sql(
        "CREATE TEMP TABLE staging_interactions (row_index INTEGER, user_id INTEGER, "
        "item_id INTEGER, kind VARCHAR(16), value FLOAT, occurred_at BIGINT)")
    connection.exec_driver_sql(
        f"INSERT INTO staging_interactions ({', '.join(_STAGING_COLUMNS)}) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        list(zip(rows.rows.tolist(), rows.user_ids.tolist(), rows.item_ids.tolist(),
                 rows.kinds.tolist(), rows.values.tolist(), rows.occurred_at.tolist(),
                 strict=True)),
    )


def _stage_postgres(connection: Connection, rows: InteractionRows) -> None:
    # COPY into a transaction-local staging table. The table lock (readers
    # still proceed) serialises concurrent ingests, so the anti-join and the
    # conflict check cannot race another writer.
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    cursor.execute(
        "CREATE TEMP TABLE staging_interactions (row_index bigint, user_id bigint, "
        "item_id bigint, kind varchar(16), value double precision, occurred_at bigint) "
        "ON COMMIT DROP"
    )
    table = pa.table({"row_index": rows.rows.astype(np.int64), "user_id": rows.user_ids,
                      "item_id": rows.item_ids, "kind": pa.array(rows.kinds, pa.string()),
                      "value": rows.values, "occurred_at": rows.occurred_at})
    buffer = io.BytesIO()
    pa_csv.write_csv(table, buffer, pa_csv.WriteOptions(include_header=False))
    with cursor.copy(
        f"COPY staging_interactions ({', '.join(_STAGING_COLUMNS)}) FROM STDIN WITH (FORMAT csv)"
    ) as copy:
        copy.write(buffer.getbuffer())
    cursor.execute("ANALYZE staging_interactions")
    cursor.execute(f"LOCK TABLE {_TABLE} IN SHARE ROW EXCLUSIVE MODE")
