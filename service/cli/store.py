"""``pigen db``, ``pigen ingest`` and ``pigen demo-data``: commands that build the store.

Heavy imports (pandas, SQLAlchemy, torch) happen inside the commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pigen.service.cli.common import fail, load_settings, open_database, skip_native_teardown

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
ingest_app = typer.Typer(help="Load catalogs and ratings (CSV or Parquet).", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the schema to the latest revision."""
    from pigen.data.migrate import current_revision

    engine = open_database(upgrade=True)
    typer.echo(f"database at revision {current_revision(engine)} ({engine.url!r})")


@db_app.command("status")
def db_status() -> None:
    """Show the schema revision and row counts."""
    from pigen.data.migrate import current_revision, head_revision
    from pigen.data.table_counts import table_counts

    engine = open_database(upgrade=False)
    revision = current_revision(engine)
    typer.echo(f"database {engine.url!r}: revision {revision} (latest {head_revision()})")
    if revision is not None:
        for table, count in table_counts(engine).items():
            typer.echo(f"  {table:<18} {count:>12,}")


ColumnOption = Annotated[
    list[str] | None,
    typer.Option("--column", "-c", help="Map a column: CANONICAL=FILE_COLUMN (repeatable)."),
]
EncodingOption = Annotated[str, typer.Option(help="Text encoding of CSV files.")]
OnConflictOption = Annotated[str, typer.Option(
    help="A key already stored with another value: error (reject the file), skip (keep the "
         "stored value) or update (replace it).")]


def _on_conflict(choice: str) -> str:
    from pigen.data.ingest.bulk import ON_CONFLICT_CHOICES

    if choice not in ON_CONFLICT_CHOICES:
        raise fail(f"--on-conflict must be one of {', '.join(ON_CONFLICT_CHOICES)}", 2)
    return choice


@ingest_app.command("catalog")
def ingest_catalog_command(
    file: Annotated[Path, typer.Argument(help="CSV or Parquet: item_id, category, "
                                         "[colour, colour_name, pattern, image, ...]")],
    images: Annotated[Path | None, typer.Option(help="Folder the image column is "
                                                   "relative to.")] = None,
    column: ColumnOption = None,
    encoding: EncodingOption = "utf-8",
    on_conflict: OnConflictOption = "error",
) -> None:
    """Load catalog items. All-or-nothing; loading the same file twice is a no-op."""
    skip_native_teardown()
    from pigen.data.ingest import IngestError, ingest_catalog
    from pigen.data.ingest.catalog import CatalogOptions
    from pigen.data.ingest.readers import parse_column_mapping

    try:
        options = CatalogOptions(columns=parse_column_mapping(column or []), images_dir=images,
                                 encoding=encoding,
                                 on_conflict=_on_conflict(on_conflict))  # type: ignore[arg-type]
        report = ingest_catalog(open_database(), file, options)
    except (IngestError, ValueError) as error:
        raise fail(str(error)) from None
    typer.echo(report.summary())


@ingest_app.command("ratings")
def ingest_ratings_command(
    file: Annotated[Path, typer.Argument(help="CSV or Parquet: user_id, item_id, rating, "
                                         "[timestamp, kind]")],
    column: ColumnOption = None,
    kind: Annotated[str, typer.Option(help="Kind of rows without a kind column: rating, "
                                      "view, click or purchase.")] = "rating",
    timestamp_unit: Annotated[str, typer.Option(help="Unit of numeric timestamps: s or ms.")
                              ] = "s",
    encoding: EncodingOption = "utf-8",
    on_conflict: OnConflictOption = "error",
    create_items: Annotated[bool, typer.Option(
        "--create-items", help="Create unknown items with no attributes (a ratings-only "
        "store: they can be recommended but do not shape images).")] = False,
) -> None:
    """Load interactions. All-or-nothing; loading the same file twice adds nothing."""
    skip_native_teardown()
    from pigen.data.ingest import IngestError, ingest_ratings
    from pigen.data.ingest.ratings import RatingsOptions
    from pigen.data.ingest.readers import parse_column_mapping

    if timestamp_unit not in ("s", "ms"):
        raise fail("--timestamp-unit must be s or ms", 2)
    on_conflict = _on_conflict(on_conflict)
    settings = load_settings()
    try:
        options = RatingsOptions(columns=parse_column_mapping(column or []), default_kind=kind,
                                 timestamp_unit=timestamp_unit,  # type: ignore[arg-type]
                                 encoding=encoding, value_range=settings.rating_range,
                                 on_conflict=on_conflict,  # type: ignore[arg-type]
                                 create_items=create_items)
        report = ingest_ratings(open_database(), file, options)
    except (IngestError, ValueError) as error:
        raise fail(str(error)) from None
    typer.echo(report.summary() + f" ({report.rows_per_second:,.0f} rows/s)")


def demo_data(
    items: Annotated[int, typer.Option(help="Catalog size.")] = 2000,
    shoppers: Annotated[int, typer.Option(help="Simulated shoppers.")] = 5000,
    ratings_per_shopper: Annotated[float, typer.Option(help="Mean ratings per shopper.")
                                   ] = 40.0,
    seed: Annotated[int, typer.Option(help="Seed of catalog and simulator.")] = 0,
) -> None:
    """Build the demo store: the built-in catalog and simulated shoppers' ratings."""
    from pigen.data.catalog.builtin import CatalogConfig
    from pigen.data.demo_data import DemoDataConfig, build_demo_data
    from pigen.data.simulator import SimulatorConfig

    settings = load_settings()
    try:
        config = DemoDataConfig(
            catalog=CatalogConfig(n_items=items, seed=seed),
            simulator=SimulatorConfig(n_shoppers=shoppers, seed=seed,
                                      mean_ratings=ratings_per_shopper),
        )
    except ValueError as error:
        raise fail(str(error), 2) from None
    engine = open_database()
    try:
        summary = build_demo_data(engine, settings.storage_dir, config,
                                  fashion_mnist_dir=settings.fashion_mnist_dir,
                                  say=typer.echo)
    except (FileNotFoundError, ValueError) as error:
        raise fail(str(error)) from None
    typer.echo("")
    for line in summary.lines():
        typer.echo(line)


def register_store_commands(app: typer.Typer) -> None:
    """Add ``demo-data`` to the root app (``db`` and ``ingest`` are groups of their own)."""
    app.command("demo-data")(demo_data)
