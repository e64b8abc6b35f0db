"""Catalog (items and their attributes) from CSV/Parquet into the database.

Items are upserted by their external id, so a corrected catalog can be loaded
again; loading the same file twice changes nothing.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.compute as pc
from PIL import Image, UnidentifiedImageError
from sqlalchemy import Engine, insert, select
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from pigen.data.ids import id_problem, is_valid_id
from pigen.data.ingest.bulk import OnConflict
from pigen.data.ingest.errors import MAX_LISTED, IngestError, Problem
from pigen.data.ingest.parquet import FIRST_DATA_LINE
from pigen.data.ingest.readers import Table, read_table, table_from_frame
from pigen.data.ingest.report import IngestReport
from pigen.data.schema import Item, utcnow

REQUIRED = ("item_id", "category")
OPTIONAL = ("colour", "colour_name", "pattern", "image")
HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
# Catalog photos are a few megapixels; a 20000x20000 PNG of a few KB would
# take 400 MB+ to decode (a decompression bomb), so refuse it by its header.
MAX_IMAGE_PIXELS = 40_000_000
COMPARED = ("category", "colour", "colour_name", "pattern", "image_path", "attributes")


@dataclass(frozen=True)
class CatalogOptions:
    """How to read a catalog file."""

    columns: Mapping[str, str] | None = None
    # Folder the ``image`` column is relative to; images must stay inside it.
    images_dir: Path | None = None
    encoding: str = "utf-8"
    # Open every image to check it decodes (slower, catches truncated files).
    verify_images: bool = True
    # A stored item whose fields differ: "error" rejects the file, "skip" keeps
    # the stored item, "update" replaces it (a corrected catalog).
    on_conflict: OnConflict = "error"


def ingest_catalog(engine: Engine, path: Path, options: CatalogOptions | None = None
                   ) -> IngestReport:
    """Validate and upsert one catalog file; raises :class:`IngestError` on any bad row."""
    options = options or CatalogOptions()
    started = time.perf_counter()
    table = read_table(path, REQUIRED, OPTIONAL, options.columns, options.encoding,
                       keep_extra=True)
    items = validate_catalog(table, options)
    return _upsert(engine, items, table.source, started, options.on_conflict)


def ingest_catalog_frame(engine: Engine, catalog: pd.DataFrame, source: str = "catalog",
                         options: CatalogOptions | None = None) -> IngestReport:
    """Same as :func:`ingest_catalog` for an in-memory frame (built-in catalog, tests)."""
    options = options or CatalogOptions()
    started = time.perf_counter()
    table = table_from_frame(source, catalog, REQUIRED)
    return _upsert(engine, validate_catalog(table, options), source, started,
                   options.on_conflict)


def validate_catalog(table: Table, options: CatalogOptions) -> list[dict[str, Any]]:
    """Check every row; returns one dict per item, ready for the ``items`` table."""
    text = {name: pc.utf8_trim_whitespace(col).to_numpy(zero_copy_only=False)
            for name, col in table.columns.items()}
    extra = [c for c in text if c not in REQUIRED and c not in OPTIONAL]
    problems: list[Problem] = []

    def problem(row: int, column: str, message: str) -> None:
        problems.append(Problem(message, table.line_of(row), column))

    if "image" in text and options.images_dir is None:
        problems.append(Problem("the file has an 'image' column: pass --images DIR, the "
                                "folder those file names are relative to"))
    if options.images_dir is not None and "image" not in text:
        problems.append(Problem("--images was given but the file has no 'image' column "
                                "(map it with --column image=YOUR_COLUMN)"))
    images_root = options.images_dir.resolve() if options.images_dir else None
    if images_root is not None and not images_root.is_dir():
        problems.append(Problem(f"images folder {options.images_dir} does not exist"))
    for name, column in table.columns.items():
        # PostgreSQL text cannot hold NUL (psycopg DataError); SQLite would store it.
        # Ids get the id rule's message instead.
        if name == "item_id":
            continue
        has_nul = pc.match_substring(column, "\x00").to_numpy(zero_copy_only=False)
        for row in has_nul.nonzero()[0][:MAX_LISTED]:
            problem(int(row), name, "contains a NUL byte (\\x00), which text cannot hold")
    if problems:
        raise IngestError(table.source, problems)

    first_line: dict[str, int] = {}
    items: list[dict[str, Any]] = []
    for row in range(table.num_rows):
        if len(problems) >= MAX_LISTED * 2:
            break
        external_id = str(text["item_id"][row])
        if not is_valid_id(external_id):
            problem(row, "item_id", id_problem(external_id))
        elif external_id in first_line:
            problem(row, "item_id", f"item {external_id!r} already appears on line "
                                    f"{first_line[external_id]}")
        else:
            first_line[external_id] = table.line_of(row)
        category = str(text["category"][row])
        if not category or len(category) > 64:
            problem(row, "category", "empty category" if not category
                    else "category longer than 64 characters")
        colour = str(text["colour"][row]).lower() if "colour" in text else ""
        if colour and not HEX_COLOUR.match(colour):
            problem(row, "colour", f"colour {colour!r} is not #rrggbb")
        pattern = str(text["pattern"][row]).lower() if "pattern" in text else ""
        if len(pattern) > 32:
            problem(row, "pattern", "pattern longer than 32 characters")
        image_path = None
        if images_root is not None:
            image_path = _checked_image(images_root, str(text["image"][row]), options,
                                        lambda m, r=row: problem(r, "image", m))
        items.append({
            "external_id": external_id,
            "category": category,
            "colour": colour or None,
            "colour_name": (str(text["colour_name"][row]).lower() or None)
            if "colour_name" in text else None,
            "pattern": pattern or None,
            "image_path": image_path,
            "attributes": {name: str(text[name][row]) for name in extra},
        })
    if problems:
        raise IngestError(table.source, problems)
    return items


def _checked_image(root: Path, name: str, options: CatalogOptions, report) -> str | None:  # type: ignore[no-untyped-def]
    """Resolve an image name inside ``root``; never follow it outside."""
    if not name:
        report("empty image file name")
        return None
    candidate = (root / name).resolve()
    if not candidate.is_relative_to(root):
        report(f"image path {name!r} points outside the images folder")
        return None
    if not candidate.is_file():
        report(f"image {name!r} not found in {root}")
        return None
    if options.verify_images:
        try:
            with Image.open(candidate) as image:
                pixels = image.width * image.height
                if pixels > MAX_IMAGE_PIXELS:
                    report(f"{name!r} is {image.width}x{image.height} pixels; the limit is "
                           f"{MAX_IMAGE_PIXELS:,} pixels (a decompression bomb?)")
                    return None
                image.verify()
        except Image.DecompressionBombError as error:  # PIL's own, larger limit
            report(f"{name!r} is too large to decode safely: {error}")
            return None
        except (UnidentifiedImageError, OSError, SyntaxError):
            report(f"{name!r} is not a readable image")
            return None
    return str(candidate)


def _upsert(engine: Engine, items: list[dict[str, Any]], source: str, started: float,
            on_conflict: OnConflict) -> IngestReport:
    with engine.begin() as connection:
        # Catalogs are thousands to a few hundred thousand rows: one read is fine.
        stored = {row.external_id: row for row in connection.execute(select(Item.__table__))}
        new = [i for i in items if i["external_id"] not in stored]
        changed = [i for i in items if i["external_id"] in stored
                   and any(getattr(stored[i["external_id"]], c) != i[c] for c in COMPARED)]
        if changed and on_conflict == "error":
            raise IngestError(source, _conflict_problems(items, changed, stored))
        conflicts_kept = len(changed) if on_conflict == "skip" else 0
        changed = [] if on_conflict == "skip" else changed
        now = utcnow()
        if new:
            connection.execute(insert(Item), [{**i, "created_at": now} for i in new])
        for batch in _chunks(changed, 5_000):
            dialect_insert = (postgres_insert if connection.dialect.name == "postgresql"
                              else sqlite_insert)
            statement = dialect_insert(Item).values(
                [{**i, "created_at": now} for i in batch])
            statement = statement.on_conflict_do_update(
                index_elements=["external_id"],
                set_={c: statement.excluded[c] for c in COMPARED},
            )
            connection.execute(statement)
    return IngestReport(source=source, rows_read=len(items), inserted=len(new),
                        updated=len(changed), conflicts_kept=conflicts_kept,
                        already_present=len(items) - len(new) - len(changed) - conflicts_kept,
                        seconds=time.perf_counter() - started)


def _conflict_problems(items: list[dict[str, Any]], changed: list[dict[str, Any]],
                       stored: dict[str, Any]) -> list[Problem]:
    """Which stored items the file would change, and how; items are in file order."""
    line = {item["external_id"]: row + FIRST_DATA_LINE for row, item in enumerate(items)}
    problems = []
    for item in changed[:MAX_LISTED]:
        fields = [c for c in COMPARED if getattr(stored[item["external_id"]], c) != item[c]]
        problems.append(Problem(
            f"item {item['external_id']!r} is stored with a different {', '.join(fields)}; "
            "pass --on-conflict update to replace it or skip to keep it",
            line[item["external_id"]], "item_id"))
    if len(changed) > MAX_LISTED:
        problems.append(Problem(f"{len(changed) - MAX_LISTED} more changed items", None,
                                "item_id"))
    return problems


def _chunks(rows: list[dict[str, Any]], size: int) -> list[list[dict[str, Any]]]:
    return [rows[i:i + size] for i in range(0, len(rows), size)]
