"""Read a Parquet file as text columns, or say which column (and row) is unreadable.

pyarrow's own errors name neither the file nor the column ("Invalid UTF8
payload", "Unsupported cast from list<...>"): these checks do.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pigen.data.ingest.errors import IngestError, Problem

#: Line of Parquet row 0, counted like a CSV file's first data line.
FIRST_DATA_LINE = 2


def read_parquet(path: Path) -> pa.Table:
    """Every column of ``path`` as UTF-8 text; raises :class:`IngestError` naming the problem."""
    try:
        # No thread pool: Arrow's worker threads alive at interpreter exit made
        # rejected ingests abort with SIGABRT ("terminate called without an
        # active exception") instead of exiting 1.
        parquet = pq.ParquetFile(path, pre_buffer=False)  # pre-buffering starts IO threads
        table = parquet.read(use_threads=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError) as error:
        raise IngestError(path.name, [Problem(f"not a readable Parquet file: {error}")]) from None
    problems = [Problem(f"column {name!r} holds {table.schema.field(name).type} values; "
                        "only flat columns (numbers, text, dates) can be read", 1, name)
                for name in table.column_names if pa.types.is_nested(table.schema.field(name).type)]
    counts = {name: table.column_names.count(name) for name in table.column_names}
    problems += [Problem(f"column {name!r} appears {n} times", 1, name)
                 for name, n in counts.items() if n > 1]
    if problems:
        raise IngestError(path.name, problems)
    group_rows = [parquet.metadata.row_group(g).num_rows
                  for g in range(parquet.metadata.num_row_groups)]
    columns: dict[str, pa.ChunkedArray] = {}
    for name in table.column_names:
        column = table.column(name)
        if pa.types.is_string(column.type) or pa.types.is_binary(column.type) \
                or pa.types.is_large_string(column.type):
            _check_utf8(path.name, name, column, group_rows)
        try:
            columns[name] = _as_text(column)
        except pa.ArrowNotImplementedError:
            problems.append(Problem(f"column {name!r} holds {column.type} values, which "
                                    "cannot be read as text", 1, name))
    if problems:
        raise IngestError(path.name, problems)
    return pa.table(columns)


def _check_utf8(source: str, name: str, column: pa.ChunkedArray, group_rows: list[int]) -> None:
    """Raise naming the row and row group of the first value that is not UTF-8."""
    offset = 0
    for chunk in column.chunks:
        try:
            if pa.types.is_binary(chunk.type):
                chunk.cast(pa.string())
            else:
                chunk.validate(full=True)
        except pa.ArrowInvalid:
            row = offset + _first_bad_utf8(chunk)
            group = int(np.searchsorted(np.cumsum(group_rows), row, side="right"))
            raise IngestError(source, [Problem(
                f"not valid UTF-8 text (Parquet row {row}, row group {group}); re-write the "
                "column as UTF-8 strings", row + FIRST_DATA_LINE, name)]) from None
        offset += len(chunk)


def _first_bad_utf8(chunk: pa.Array) -> int:
    raw = chunk.view(pa.large_binary() if pa.types.is_large_string(chunk.type)
                     else pa.binary())
    for row, value in enumerate(raw.to_pylist()):
        try:
            if value is not None:
                value.decode("utf-8")
        except UnicodeDecodeError:
            return row
    return 0


def _as_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_timestamp(column.type):
        # Keep the instant: render as ISO 8601 with an explicit UTC offset.
        column = column.cast(pa.timestamp("s", tz=column.type.tz or "UTC"))
        return pc.strftime(column, format="%Y-%m-%dT%H:%M:%S%z").fill_null("")
    return column.cast(pa.string()).fill_null("")
