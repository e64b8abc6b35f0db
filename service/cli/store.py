"""The ``pigen`` command line.

Imports here stay light so ``pigen --help`` is instant; each command imports
what it needs (pandas, torch, implicit) when it runs.
"""

from __future__ import annotations

import os

# Before anything can import torch: spinning OpenMP threads make a busy 2-core
# machine several times slower.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from pathlib import Path  # noqa: E402
from typing import Annotated  # noqa: E402

import typer  # noqa: E402

from pigen.service.campaign_cli import campaign_app  # noqa: E402
from pigen.service.cli_support import fail, load_settings, open_database  # noqa: E402
from pigen.service.experiments_cli import experiment_app  # noqa: E402
from pigen.service.generator_cli import generator_app  # noqa: E402
from pigen.service.recsys_cli import recsys_app  # noqa: E402
from pigen.service.serve_cli import register_serve_commands  # noqa: E402

app = typer.Typer(help="pigen: personalised product images from shoppers' ratings.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
ingest_app = typer.Typer(help="Load catalogs and ratings (CSV or Parquet).", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(ingest_app, name="ingest")
app.add_typer(recsys_app, name="recsys")
register_serve_commands(app)  # serve, demo, apikey
app.add_typer(generator_app, name="generator")
app.add_typer(campaign_app, name="campaign")
app.add_typer(experiment_app, name="experiment")


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
    from pigen.data.stats import table_counts

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


@ingest_app.command("catalog")
def ingest_catalog_command(
    file: Annotated[Path, typer.Argument(help="CSV or Parquet: item_id, category, "
                                         "[colour, colour_name, pattern, image, ...]")],
    images: Annotated[Path | None, typer.Option(help="Folder the image column is "
                                                   "relative to.")] = None,
    column: ColumnOption = None,
    encoding: EncodingOption = "utf-8",
) -> None:
    """Load or update catalog items. All-or-nothing; loading the same file twice is a no-op."""
    from pigen.data.ingest import IngestError, ingest_catalog
    from pigen.data.ingest.catalog import CatalogOptions
    from pigen.data.ingest.readers import parse_column_mapping

    try:
        options = CatalogOptions(columns=parse_column_mapping(column or []), images_dir=images,
                                 encoding=encoding)
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
) -> None:
    """Load interactions. All-or-nothing; loading the same file twice adds nothing."""
    from pigen.data.ingest import IngestError, ingest_ratings
    from pigen.data.ingest.ratings import RatingsOptions
    from pigen.data.ingest.readers import parse_column_mapping

    if timestamp_unit not in ("s", "ms"):
        raise fail("--timestamp-unit must be s or ms", 2)
    try:
        options = RatingsOptions(columns=parse_column_mapping(column or []), default_kind=kind,
                                 timestamp_unit=timestamp_unit,  # type: ignore[arg-type]
                                 encoding=encoding)
        report = ingest_ratings(open_database(), file, options)
    except (IngestError, ValueError) as error:
        raise fail(str(error)) from None
    typer.echo(report.summary() + f" ({report.rows_per_second:,.0f} rows/s)")


@app.command("demo-data")
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


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
