"""Ratings (and other interactions) from CSV/Parquet into the database.

Order of work: read -> validate every row -> resolve ids -> one transaction.
Nothing is written unless the whole file is good.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection, Engine, insert, select

from pigen.data.ids import ID_PATTERN, id_problem
from pigen.data.ingest.bulk import (
    InteractionRows,
    OnConflict,
    ensure_users,
    insert_interactions,
)
from pigen.data.ingest.errors import MAX_LISTED, IngestError, Problem
from pigen.data.ingest.parquet import FIRST_DATA_LINE
from pigen.data.ingest.readers import Table, read_table, table_from_frame
from pigen.data.ingest.report import IngestReport
from pigen.data.schema import INTERACTION_KINDS, Item

REQUIRED = ("user_id", "item_id", "rating")
OPTIONAL = ("timestamp", "kind")
#: Default accepted rating range, the same bounds as ``POST /v1/interactions``:
#: far inside float32 (the users x items matrix), so training never sees inf.
RATING_RANGE = (-1e6, 1e6)
# Later than this is almost surely milliseconds or garbage, not seconds.
LATEST_TIMESTAMP = 32_503_680_000  # 3000-01-01T00:00:00Z
#: What marks an item created by ``create_items``: it has no category (""), colour
#: or pattern, so it can be recommended but never shapes image conditions.
RATINGS_ONLY = {"ratings_only": True}


@dataclass(frozen=True)
class RatingsOptions:
    """How to read a ratings file."""

    # canonical name -> column name in the file, e.g. {"user_id": "userId"}
    columns: Mapping[str, str] | None = None
    # Kind for every row when the file has no kind column.
    default_kind: str = "rating"
    # Unit of numeric timestamps.
    timestamp_unit: Literal["s", "ms"] = "s"
    encoding: str = "utf-8"
    # Values outside [min, max] reject the file (settings PIGEN_RATING_MIN/MAX).
    # Negative values are dislikes for ALS; set min to 0 to refuse them.
    value_range: tuple[float, float] = RATING_RANGE
    # A row whose (user, item, kind, time) is stored with another value:
    # "error" rejects the file, "skip" keeps the stored value, "update" replaces it.
    on_conflict: OnConflict = "error"
    # Unknown item ids become items with no attributes (flagged RATINGS_ONLY)
    # instead of rejecting the file: a ratings-only store needs no catalog.
    create_items: bool = False


def ingest_ratings(engine: Engine, path: Path, options: RatingsOptions | None = None
                   ) -> IngestReport:
    """Validate and load one ratings file; raises :class:`IngestError` on any bad row."""
    options = options or RatingsOptions()
    started = time.perf_counter()
    table = read_table(path, REQUIRED, OPTIONAL, options.columns, options.encoding)
    frame = validate_ratings(table, options)
    return _write(engine, frame, table.source, started, options)


def ingest_ratings_frame(engine: Engine, ratings: pd.DataFrame, source: str = "ratings",
                         options: RatingsOptions | None = None) -> IngestReport:
    """Same as :func:`ingest_ratings` for an in-memory frame (simulator, tests)."""
    options = options or RatingsOptions()
    started = time.perf_counter()
    table = table_from_frame(source, ratings, REQUIRED, columns=(*REQUIRED, *OPTIONAL))
    return _write(engine, validate_ratings(table, options), source, started, options)


@dataclass(frozen=True)
class ValidRatings:
    """Validated rows as parallel arrays; row r is file line ``r + FIRST_DATA_LINE``.

    Ids stay Arrow strings: hashing them in Arrow is several times faster than
    through Python objects at a million rows.
    """

    users: pa.ChunkedArray  # (N,) string
    items: pa.ChunkedArray  # (N,) string
    kind_codes: np.ndarray  # (N,) int8 index into INTERACTION_KINDS
    values: np.ndarray  # (N,) float64
    timestamps: np.ndarray  # (N,) int64 unix seconds

    def __len__(self) -> int:
        return len(self.values)


def validate_ratings(table: Table, options: RatingsOptions) -> ValidRatings:
    """Check and convert every row; raises :class:`IngestError` listing bad rows."""
    problems: list[Problem] = []
    users = _identifiers(table, "user_id", problems)
    items = _identifiers(table, "item_id", problems)
    values = _numbers(table, "rating", options.value_range, problems)
    timestamps = _timestamps(table, options.timestamp_unit, problems)
    kinds = _kinds(table, options.default_kind, problems)
    if problems:
        raise IngestError(table.source, problems)
    return ValidRatings(users, items, kinds, values, timestamps)


def _flagged(table: Table, bad: np.ndarray, column: str, describe) -> list[Problem]:  # type: ignore[no-untyped-def]
    rows = np.flatnonzero(bad)
    problems = [Problem(describe(row), table.line_of(int(row)), column)
                for row in rows[:MAX_LISTED]]
    if len(rows) > MAX_LISTED:
        problems.append(Problem(f"{len(rows) - MAX_LISTED} more rows like these", None, column))
    return problems


def _identifiers(table: Table, column: str, problems: list[Problem]) -> pa.ChunkedArray:
    """Ids trimmed of surrounding blanks, checked against the API's id rule."""
    text = pc.utf8_trim_whitespace(table.columns[column])
    bad = pc.invert(pc.match_substring_regex(text, ID_PATTERN)).to_numpy(zero_copy_only=False)
    if bad.any():
        problems += _flagged(table, bad, column, lambda r: id_problem(text[r].as_py()))
    return text


def _numbers(table: Table, column: str, value_range: tuple[float, float],
             problems: list[Problem]) -> np.ndarray:
    raw = table.columns[column]
    try:
        values = pc.cast(pc.utf8_trim_whitespace(raw), pa.float64()).to_numpy(
            zero_copy_only=False)
    except pa.ArrowInvalid:
        values = pd.to_numeric(pd.Series(raw.to_numpy(zero_copy_only=False)),
                               errors="coerce").to_numpy(np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        text = raw.to_numpy(zero_copy_only=False)
        problems += _flagged(table, bad, column, lambda r: f"{text[r]!r} is not a number")
    low, high = value_range
    outside = np.isfinite(values) & ((values < low) | (values > high))
    if outside.any():
        problems += _flagged(table, outside, column, lambda r: (
            f"{values[r]:g} is outside the accepted range [{low:g}, {high:g}] "
            "(PIGEN_RATING_MIN / PIGEN_RATING_MAX)"))
    return values


def _timestamps(table: Table, unit: str, problems: list[Problem]) -> np.ndarray:
    if "timestamp" not in table.columns:
        # Undated rows share time 0 so that re-ingesting them stays idempotent.
        return np.zeros(table.num_rows, dtype=np.int64)
    raw = table.columns["timestamp"]
    trimmed = pc.utf8_trim_whitespace(raw)
    try:  # fast path: every value is a plain number
        numeric = pc.cast(trimmed, pa.float64()).to_numpy(zero_copy_only=False)
        text = None
    except pa.ArrowInvalid:
        text = pd.Series(trimmed.to_numpy(zero_copy_only=False), dtype=object)
        numeric = pd.to_numeric(text, errors="coerce").to_numpy(np.float64)
    seconds = numeric / 1000.0 if unit == "ms" else numeric.copy()
    not_numeric = np.isnan(numeric)
    if text is not None and not_numeric.any():
        parsed = pd.to_datetime(text[not_numeric], utc=True, errors="coerce", format="ISO8601")
        epoch = (parsed - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)
        seconds[not_numeric] = epoch.to_numpy(np.float64, na_value=np.nan)
    bad = ~np.isfinite(seconds) | (seconds < 0) | (seconds > LATEST_TIMESTAMP)
    if bad.any():
        original = raw.to_numpy(zero_copy_only=False)

        def describe(row: int) -> str:
            if np.isfinite(seconds[row]) and seconds[row] > LATEST_TIMESTAMP:
                return (f"timestamp {original[row]!r} is after year 3000 "
                        "(milliseconds? use --timestamp-unit ms)")
            if np.isfinite(seconds[row]) and seconds[row] < 0:
                return f"timestamp {original[row]!r} is before 1970"
            return (f"bad timestamp {original[row]!r}: use unix seconds or ISO 8601 "
                    "like 2024-05-01T12:00:00Z")

        problems += _flagged(table, bad, "timestamp", describe)
        return np.zeros(table.num_rows, dtype=np.int64)
    return np.floor(seconds).astype(np.int64)


def _kinds(table: Table, default: str, problems: list[Problem]) -> np.ndarray:
    if default not in INTERACTION_KINDS:
        problems.append(Problem(f"unknown kind {default!r}; use one of {INTERACTION_KINDS}"))
        return np.zeros(table.num_rows, dtype=np.int8)
    if "kind" not in table.columns:
        return np.full(table.num_rows, INTERACTION_KINDS.index(default), dtype=np.int8)
    kinds = pc.utf8_lower(pc.utf8_trim_whitespace(table.columns["kind"]))
    kinds = pc.if_else(pc.equal(kinds, ""), default, kinds)
    codes = pc.index_in(kinds, pa.array(INTERACTION_KINDS)).to_numpy(zero_copy_only=False)
    bad = np.isnan(codes) if codes.dtype.kind == "f" else np.zeros(len(codes), dtype=bool)
    if bad.any():
        names = kinds.to_numpy(zero_copy_only=False)
        problems += _flagged(table, bad, "kind", lambda r: f"unknown kind {names[r]!r}; "
                             f"use one of {', '.join(INTERACTION_KINDS)}")
        return np.zeros(table.num_rows, dtype=np.int8)
    return codes.astype(np.int8)


def _write(engine: Engine, rows: ValidRatings, source: str, started: float,
           options: RatingsOptions) -> IngestReport:
    on_conflict = options.on_conflict
    with engine.begin() as connection:
        new_items = _create_items(connection, rows) if options.create_items else 0
        item_pks = _item_pks(connection, rows, source)
        user_pks, new_users = ensure_users(connection, rows.users)
        keep, repeated = _first_of_repeats(user_pks, item_pks, rows, source)
        kinds = np.asarray(INTERACTION_KINDS, dtype=object)[rows.kind_codes[keep]]
        written = insert_interactions(connection, InteractionRows(
            user_pks[keep], item_pks[keep], kinds, rows.values[keep], rows.timestamps[keep],
            keep), on_conflict)
        if len(written.conflicts) and on_conflict == "error":
            # Raising inside the transaction rolls the users and rows back.
            raise IngestError(source, _conflict_problems(written.conflicts))
    return IngestReport(
        source=source,
        rows_read=len(rows),
        inserted=written.inserted,
        already_present=len(rows) - repeated - written.inserted - len(written.conflicts),
        updated=written.updated,
        conflicts_kept=len(written.conflicts) - written.updated,
        negative_values=int((rows.values < 0).sum()),
        new_users=new_users,
        new_items=new_items,
        duplicates_in_file=repeated,
        seconds=time.perf_counter() - started,
    )


def _conflict_problems(rows: np.ndarray) -> list[Problem]:
    lines = np.sort(rows)
    problems = [Problem("already stored with a different value (same user, item, kind and "
                        "time); pass --on-conflict skip or update", int(row) + FIRST_DATA_LINE,
                        "rating") for row in lines[:MAX_LISTED]]
    if len(lines) > MAX_LISTED:
        problems.append(Problem(f"{len(lines) - MAX_LISTED} more conflicting rows", None,
                                "rating"))
    return problems


def _create_items(connection: Connection, rows: ValidRatings) -> int:
    """Insert the rows' unknown items with no attributes (in the caller's transaction)."""
    stored = pa.array(connection.execute(select(Item.external_id)).scalars().all(), pa.string())
    unique = pc.unique(rows.items)
    missing = pc.filter(unique, pc.invert(pc.is_in(unique, stored))).to_pylist()
    if missing:
        connection.execute(insert(Item), [
            {"external_id": item, "category": "", "attributes": RATINGS_ONLY}
            for item in missing])
    return len(missing)


def _item_pks(connection: Connection, rows: ValidRatings, source: str) -> np.ndarray:
    """Primary keys of each row's item; rejects the file if any item is not in the catalog."""
    stored = connection.execute(select(Item.external_id, Item.id)).all()
    external = pa.array([r[0] for r in stored], pa.string())
    pks = np.fromiter((r[1] for r in stored), dtype=np.int64, count=len(stored))
    positions = pc.index_in(rows.items, external)
    unknown = positions.is_null().to_numpy(zero_copy_only=False)
    if unknown.any():
        lines = np.flatnonzero(unknown)
        names = pc.filter(rows.items, pa.array(unknown)).to_pylist()
        problems = [Problem(f"unknown item {name!r} (not in the catalog; ingest the catalog "
                            "first, fix the id, or pass --create-items)",
                            int(row) + FIRST_DATA_LINE, "item_id")
                    for row, name in zip(lines[:MAX_LISTED], names, strict=False)]
        if len(lines) > MAX_LISTED:
            problems.append(Problem(f"{len(lines) - MAX_LISTED} more rows with unknown items",
                                    None, "item_id"))
        raise IngestError(source, problems)
    return pks[positions.to_numpy(zero_copy_only=False)]


def _first_of_repeats(user_pks: np.ndarray, item_pks: np.ndarray, rows: ValidRatings,
                      source: str) -> tuple[np.ndarray, int]:
    """Rows to insert: the first of each natural key. A repeat with another value is an error.

    Returns (row indices sorted by natural key, number of repeats dropped).
    Sorted input also makes the database's key B-tree inserts sequential.
    """
    # One int64 for (user, item) halves the sort keys; ids stay far below 2**31.
    pair = (user_pks.astype(np.int64) << 32) | item_pks.astype(np.int64)
    order = np.lexsort((rows.timestamps, rows.kind_codes, pair))
    pair, kinds, stamps = pair[order], rows.kind_codes[order], rows.timestamps[order]
    same_key = ((pair[1:] == pair[:-1]) & (kinds[1:] == kinds[:-1])
                & (stamps[1:] == stamps[:-1]))
    if not same_key.any():
        return order, 0
    values = rows.values[order]
    conflicting = same_key & (values[1:] != values[:-1])
    if conflicting.any():
        lines = np.sort(np.maximum(order[1:][conflicting], order[:-1][conflicting]))
        problems = [Problem("repeats an earlier row (same user, item, kind and time) with a "
                            "different value", int(row) + FIRST_DATA_LINE, "rating")
                    for row in lines[:MAX_LISTED]]
        raise IngestError(source, problems)
    keep = np.ones(len(order), dtype=bool)
    keep[1:] = ~same_key
    return order[keep], int(same_key.sum())
