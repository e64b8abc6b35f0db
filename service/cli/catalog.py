"""``pigen catalog``: attributes learned from a store's own product images (issue 16).

Heavy imports (numpy, torch, SQLAlchemy) happen inside the commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pigen.service.cli.common import fail, load_settings, open_database

catalog_app = typer.Typer(help="Extract and name colour and texture from catalog images.",
                          no_args_is_help=True)


def extraction_dir(catalog_dir: Path | None = None) -> Path:
    """Where extraction keeps its encoder and groups: under var/ unless told."""
    return (catalog_dir or load_settings().catalog_dir) / "extraction"


def prepared_dir(catalog_dir: Path | None = None) -> Path:
    """Where prepared photos are cached, for extraction and catalog training alike."""
    return (catalog_dir or load_settings().catalog_dir) / "prepared"


@catalog_app.command("extract")
def extract_command(
    palette: Annotated[Path | None, typer.Option(help="Your colour names: CSV name,hex "
                                                 "or JSON {name: \"#rrggbb\"}.")] = None,
    k: Annotated[int | None, typer.Option(help="Texture groups (default: chosen by "
                                          "silhouette).", min=2)] = None,
    resolution: Annotated[int, typer.Option(help="Side of the prepared images, px.",
                                            min=8)] = 64,
    strict: Annotated[bool, typer.Option(help="Refuse the run if any image is "
                                         "unusable (default: skip and report).")] = False,
    encoder_config: Annotated[Path | None, typer.Option(
        help="TextureEncoderConfig as JSON (fields not given keep their defaults).")] = None,
) -> None:
    """Fill colour and pattern from the images; values the catalog carries win."""
    import json

    from pigen.data.catalog.colour_clusters import load_palette
    from pigen.data.catalog.extract import extract_catalog_attributes
    from pigen.data.catalog.texture import TextureEncoderConfig

    try:
        names = load_palette(palette) if palette is not None else None
        config = (TextureEncoderConfig.from_dict(json.loads(encoder_config.read_text()))
                  if encoder_config is not None else None)
        report = extract_catalog_attributes(open_database(), cache_dir=extraction_dir(),
                                            prepared_dir=prepared_dir(),
                                            resolution=resolution, palette=names, k=k,
                                            encoder_config=config, strict=strict)
    except (ValueError, OSError) as error:
        raise fail(str(error)) from None
    for line in report.lines():
        typer.echo(line)


@catalog_app.command("patterns")
def patterns_command(
    out: Annotated[Path | None, typer.Option(help="Folder for the sheets (default: the "
                                             "extraction folder).")] = None,
) -> None:
    """One contact-sheet PNG per texture group; prints their paths."""
    from pigen.data.catalog.extract import pattern_sheets

    cache = extraction_dir()
    try:
        paths = pattern_sheets(cache, out or cache / "patterns")
    except ValueError as error:
        raise fail(str(error)) from None
    for path in paths:
        typer.echo(str(path))


@catalog_app.command("name-pattern")
def name_pattern_command(
    group: Annotated[int, typer.Argument(help="Group number, as in texture-N.")],
    name: Annotated[str, typer.Argument(help="The pattern name, e.g. striped.")],
) -> None:
    """Name a texture group: its extracted items' pattern becomes NAME."""
    from pigen.data.catalog.extract import name_texture_group

    try:
        changed = name_texture_group(open_database(), extraction_dir(), group, name)
    except ValueError as error:
        raise fail(str(error)) from None
    typer.echo(f"texture-{group} is now {name.strip().lower()!r} on {changed:,} items")
