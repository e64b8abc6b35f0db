"""Read a CSV or Parquet file into string columns under canonical names.

Everything is read as text first and converted by the validators, so a bad
value becomes a message naming its line instead of a silently coerced NaN.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

from pigen.data.ingest.errors import IngestError, Problem
from pigen.data.ingest.parquet import FIRST_DATA_LINE, read_parquet

#: pyarrow's CSV block size; a field longer than a block needs a bigger one.
BLOCK_SIZE = 1 << 20  # bytes


@dataclass(frozen=True)
class Table:
    """Columns of a file renamed to canonical names, as pyarrow string arrays."""

    source: str
    columns: dict[str, pa.ChunkedArray]
    num_rows: int

    def line_of(self, row: int) -> int:
        """File line of 0-based data row ``row`` (Parquet rows count the same way)."""
        return row + FIRST_DATA_LINE


def parse_column_mapping(pairs: Sequence[str]) -> dict[str, str]:
    """``["user_id=userId", ...]`` -> ``{"user_id": "userId"}`` with clear errors."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        canonical, sep, source = pair.partition("=")
        if not sep or not canonical.strip() or not source.strip():
            raise ValueError(f"column mapping {pair!r} must look like CANONICAL=FILE_COLUMN")
        mapping[canonical.strip()] = source.strip()
    return mapping


def read_table(
    path: Path,
    required: Sequence[str],
    optional: Sequence[str] = (),
    mapping: Mapping[str, str] | None = None,
    encoding: str = "utf-8",
    keep_extra: bool = False,
) -> Table:
    """Read ``path`` (``.csv``/``.tsv``/``.parquet``) and check the columns.

    ``mapping`` maps canonical names to the file's names. With ``keep_extra``,
    unmapped columns are kept under their own names (catalog attributes).
    Raises :class:`IngestError` for an empty file, bad encoding or missing columns.
    """
    source = path.name
    mapping = dict(mapping or {})
    unknown = set(mapping) - set(required) - set(optional)
    if unknown:
        known = ", ".join([*required, *optional])
        raise IngestError(source, [Problem(f"cannot map unknown column(s) {sorted(unknown)}; "
                                           f"known: {known}")])
    if not path.is_file():
        raise IngestError(source, [Problem(f"no such file: {path}")])
    if path.stat().st_size == 0:
        raise IngestError(source, [Problem("the file is empty")])
    arrow = read_parquet(path) if path.suffix.lower() in {".parquet", ".pq"} else _read_csv(
        path, encoding
    )
    if arrow.num_rows == 0:
        raise IngestError(source, [Problem("the file has a header but no data rows")])

    file_columns = list(arrow.column_names)
    columns: dict[str, pa.ChunkedArray] = {}
    problems = []
    for name in [*required, *optional]:
        file_name = mapping.get(name, name)
        if file_name in file_columns:
            columns[name] = arrow.column(file_name)
        elif name in required:
            hint = f"; map it with --column {name}=YOUR_COLUMN" if name not in mapping else ""
            problems.append(Problem(f"missing column {file_name!r} (the file has: "
                                    f"{', '.join(file_columns)}){hint}", line=1))
    if problems:
        raise IngestError(source, problems)
    if keep_extra:
        used = {mapping.get(n, n) for n in columns}
        for name in file_columns:
            if name not in used and name not in columns:
                columns[name] = arrow.column(name)
    return Table(source, columns, arrow.num_rows)


def table_from_frame(source: str, frame: pd.DataFrame, required: Sequence[str],
                     columns: Sequence[str] | None = None) -> Table:
    """An in-memory frame as a :class:`Table`, validated exactly like a file.

    Missing values (None, NaN) become empty text, as an empty CSV cell would,
    instead of the strings "None"/"nan". ``columns`` limits which are kept.
    """
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise IngestError(source, [Problem(f"missing column(s) {missing}")])
    if frame.empty:
        raise IngestError(source, [Problem("no rows")])
    keep = [c for c in frame.columns if columns is None or c in columns]
    arrays = {
        str(c): pa.array(frame[c].astype(object).where(frame[c].notna(), "").astype(str)
                         .to_numpy(), pa.string())
        for c in keep
    }
    return Table(source, {name: pa.chunked_array([a]) for name, a in arrays.items()},
                 len(frame))


def _read_csv(path: Path, encoding: str) -> pa.Table:
    try:
        is_utf8 = codecs.lookup(encoding).name == "utf-8"
    except LookupError:
        raise IngestError(path.name, [Problem(f"unknown encoding {encoding!r}")]) from None
    raw = path.read_bytes()
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise IngestError(path.name, [Problem(
            f"not valid {encoding} text (byte 0x{raw[error.start]:02x}); re-save the file "
            "as UTF-8 or pass --encoding (e.g. latin-1)", line=line)]) from None
    if not text.strip():
        raise IngestError(path.name, [Problem("the file is empty")])
    # pyarrow parses UTF-8 only: hand it the bytes as they are when we can.
    has_bom = text.startswith("\ufeff")
    data = raw if is_utf8 and not has_bom else text.removeprefix("\ufeff").encode("utf-8")
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    try:
        first_line = data.split(b"\n", 1)[0].decode("utf-8").rstrip("\r")
        header = next(csv.reader([first_line], delimiter=delimiter))
    except (UnicodeDecodeError, StopIteration, csv.Error) as error:
        raise IngestError(path.name, [Problem(f"unreadable header: {error}", line=1)]) from None
    _check_header(path.name, header)
    try:
        return _parse_csv(data, delimiter, header, BLOCK_SIZE)
    except pa.ArrowInvalid as error:
        if "straddl" not in str(error):
            raise IngestError(path.name, [Problem(f"not a readable CSV table: {error}")]) from None
    # A field longer than a block (a long product description): the file is
    # already in memory, so parse it as one block rather than refuse it.
    try:
        return _parse_csv(data, delimiter, header, len(data) + 1)
    except pa.ArrowInvalid as error:
        raise IngestError(path.name, [Problem(f"not a readable CSV table: {error}")]) from None


def _check_header(source: str, header: list[str]) -> None:
    """Each column name once: pyarrow would fail with ``Field "x" exists 2 times``."""
    seen: dict[str, int] = {}
    for name in header:
        seen[name] = seen.get(name, 0) + 1
    problems = [Problem(f"column {name!r} appears {count} times in the header", 1, name)
                for name, count in seen.items() if count > 1]
    if problems:
        raise IngestError(source, problems)


def _parse_csv(data: bytes, delimiter: str, header: list[str], block_size: int) -> pa.Table:
    # No thread pool: Arrow's worker threads alive at interpreter exit made
    # rejected ingests abort with SIGABRT instead of exiting 1.
    return pa_csv.read_csv(
        io.BytesIO(data),
        read_options=pa_csv.ReadOptions(use_threads=False, block_size=block_size),
        parse_options=pa_csv.ParseOptions(delimiter=delimiter),
        convert_options=pa_csv.ConvertOptions(
            column_types={name: pa.string() for name in header},
            strings_can_be_null=False,
        ),
    )
