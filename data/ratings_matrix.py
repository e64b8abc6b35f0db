"""Interactions from the database as a users x items sparse matrix plus id maps.

This is the one way models see the store: vectorised end to end (no per-row
Python objects), so reading a million ratings costs about a second.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import scipy.sparse as sp
from sqlalchemy import Connection, Engine, select

from pigen.data.idmap import IdMap
from pigen.data.schema import INTERACTION_KINDS, Interaction, Item, User

Aggregate = Literal["last", "sum", "max"]


@dataclass(frozen=True)
class UserItemRatings:
    """A users x items matrix and the ids of its rows and columns.

    Every stored user and item has a row/column (in primary-key order), even
    without interactions, so item columns line up with the whole catalog.
    """

    user_items: sp.csr_matrix  # (n_users, n_items) float32
    users: IdMap
    items: IdMap

    def __post_init__(self) -> None:
        if self.user_items.shape != (len(self.users), len(self.items)):
            raise ValueError(
                f"user_items has shape {self.user_items.shape}, expected "
                f"(users={len(self.users)}, items={len(self.items)})"
            )


@dataclass(frozen=True)
class InteractionArrays:
    """Interactions as parallel arrays of matrix rows/columns (one entry per event)."""

    user_rows: np.ndarray  # (N,) int64
    item_cols: np.ndarray  # (N,) int64
    values: np.ndarray  # (N,) float32
    timestamps: np.ndarray  # (N,) int64 unix seconds
    users: IdMap
    items: IdMap

    def to_frame(self) -> pd.DataFrame:
        """Columns user_id, item_id (external ids), value, timestamp."""
        return pd.DataFrame({
            "user_id": self.users.to_array()[self.user_rows],
            "item_id": self.items.to_array()[self.item_cols],
            "value": self.values,
            "timestamp": self.timestamps,
        })


def read_interactions(engine: Engine, kinds: Sequence[str] | None = ("rating",)
                      ) -> InteractionArrays:
    """All interactions of the given kinds (None: every kind), as matrix coordinates."""
    with engine.connect() as connection:
        user_pks, users = _id_map(connection, User)
        item_pks, items = _id_map(connection, Item)
        raw = _fetch_interactions(connection, kinds)
    # Primary keys are sorted (ORDER BY id), so searchsorted maps pk -> row.
    return InteractionArrays(
        user_rows=np.searchsorted(user_pks, raw[0]),
        item_cols=np.searchsorted(item_pks, raw[1]),
        values=raw[2].astype(np.float32),
        timestamps=raw[3],
        users=users,
        items=items,
    )


def read_user_items(engine: Engine, kinds: Sequence[str] | None = ("rating",),
                    aggregate: Aggregate = "last") -> UserItemRatings:
    """Read interactions into a users x items CSR matrix.

    ``aggregate`` decides what a user who rated an item several times gets:
    the latest value (default, a re-rating replaces the old one), the sum
    (views/clicks as counts) or the maximum.
    """
    arrays = read_interactions(engine, kinds)
    matrix = user_items_matrix(arrays.user_rows, arrays.item_cols, arrays.values,
                               arrays.timestamps, (len(arrays.users), len(arrays.items)),
                               aggregate)
    return UserItemRatings(matrix, arrays.users, arrays.items)


def user_items_matrix(user_rows: np.ndarray, item_cols: np.ndarray, values: np.ndarray,
                      timestamps: np.ndarray | None, shape: tuple[int, int],
                      aggregate: Aggregate = "last") -> sp.csr_matrix:
    """Build a users x items CSR (float32) from coordinates, resolving repeats."""
    user_rows = np.asarray(user_rows, dtype=np.int64)
    item_cols = np.asarray(item_cols, dtype=np.int64)
    values = np.asarray(values, dtype=np.float32)
    if aggregate == "sum":
        matrix = sp.csr_matrix((values, (user_rows, item_cols)), shape=shape, dtype=np.float32)
        matrix.sum_duplicates()
        return matrix
    cell = user_rows * shape[1] + item_cols
    if aggregate == "last":
        stamps = np.zeros_like(cell) if timestamps is None else np.asarray(timestamps)
        order = np.lexsort((np.arange(len(cell)), stamps, cell))  # by cell, then time, then row
    elif aggregate == "max":
        order = np.lexsort((values, cell))
    else:
        raise ValueError(f"aggregate must be 'last', 'sum' or 'max', not {aggregate!r}")
    sorted_cells = cell[order]
    # The last entry of each run of equal cells wins.
    keep = np.ones(len(order), dtype=bool)
    keep[:-1] = sorted_cells[1:] != sorted_cells[:-1]
    chosen = order[keep]
    matrix = sp.csr_matrix((values[chosen], (user_rows[chosen], item_cols[chosen])),
                           shape=shape, dtype=np.float32)
    matrix.sort_indices()
    return matrix


def _id_map(connection: Connection, table: type[User] | type[Item]) -> tuple[np.ndarray, IdMap]:
    rows = connection.execute(select(table.id, table.external_id).order_by(table.id)).all()
    pks = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    return pks, IdMap(tuple(r[1] for r in rows))


def _fetch_interactions(connection: Connection, kinds: Sequence[str] | None
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    query = select(Interaction.user_id, Interaction.item_id, Interaction.value,
                   Interaction.occurred_at)
    if kinds is not None:
        unknown = set(kinds) - set(INTERACTION_KINDS)
        if unknown:
            raise ValueError(f"unknown interaction kinds {sorted(unknown)}; "
                             f"use {', '.join(INTERACTION_KINDS)}")
        query = query.where(Interaction.kind.in_(list(kinds)))
    if connection.dialect.name == "postgresql":
        return _copy_out_postgres(connection, query)
    # Plain DBAPI tuples: numpy converts them in C, where SQLAlchemy Row objects
    # cost a Python-level attribute probe per row.
    sql = str(query.compile(connection, compile_kwargs={"literal_binds": True}))
    rows = connection.exec_driver_sql(sql).cursor.fetchall()  # type: ignore[union-attr]
    if not rows:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0, dtype=np.float32), empty
    # One C-level conversion of the row tuples instead of four Python loops.
    table = np.array(rows, dtype=np.float64)  # (N, 4); pks and seconds are exact < 2**53
    return (table[:, 0].astype(np.int64), table[:, 1].astype(np.int64),
            table[:, 2].astype(np.float32), table[:, 3].astype(np.int64))


def _copy_out_postgres(connection: Connection, query) -> tuple[  # type: ignore[no-untyped-def]
        np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    # COPY streams the result as CSV, which pyarrow parses in C: several times
    # faster than fetching row tuples through the driver.
    sql = str(query.compile(connection, compile_kwargs={"literal_binds": True}))
    buffer = io.BytesIO()
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)") as copy:
        for block in copy:
            buffer.write(block)
    if buffer.tell() == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0, dtype=np.float32), empty
    buffer.seek(0)
    names = ["user_id", "item_id", "value", "occurred_at"]
    table = pa_csv.read_csv(buffer, read_options=pa_csv.ReadOptions(column_names=names),
                            convert_options=pa_csv.ConvertOptions(column_types={
                                "user_id": pa.int64(), "item_id": pa.int64(),
                                "value": pa.float64(), "occurred_at": pa.int64()}))
    return (table.column("user_id").to_numpy(), table.column("item_id").to_numpy(),
            table.column("value").to_numpy().astype(np.float32),
            table.column("occurred_at").to_numpy())
