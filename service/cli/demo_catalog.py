"""``pigen demo --catalog DIR``: the storefront on a folder of a store's own photos.

DIR holds the photos and one catalog CSV (item_id, category, image; colour and
pattern optional) and, optionally, ``ratings.csv``. The steps: ingest, extract
the missing colours and patterns (``pigen catalog extract``), train the
generator on the catalog with a progress bar (resumable), register and activate
it, and give the store shoppers (the ratings file's, or simulated ones who each
favour one category) so the taste model has something to learn.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import typer
from sqlalchemy import Engine

from pigen.service.cli import common as cli
from pigen.service.settings import Settings

#: Steps a CPU finishes in minutes at 64 px; a GPU does thousands in that time.
CPU_DEFAULT_STEPS = 300
RATINGS_FILE = "ratings.csv"


def prepare_catalog_demo(engine: Engine, settings: Settings, folder: Path,
                         steps: int | None) -> None:
    """Ingest ``folder``, fill attributes, train and activate its generator, add shoppers."""
    from pigen.data.ingest import IngestError, ingest_catalog, ingest_ratings
    from pigen.data.ingest.catalog import CatalogOptions

    csv = _catalog_csv(folder)
    try:
        report = ingest_catalog(engine, csv, CatalogOptions(images_dir=folder,
                                                            on_conflict="update"))
    except IngestError as error:
        raise cli.fail(f"{csv}: {error}") from None
    typer.echo(f"catalog: {report.rows_read} rows from {csv.name} ({report.inserted} new)")
    _refuse_other_items(engine, csv)
    _extract_missing(engine, settings)
    _train(engine, settings, steps)
    ratings = folder / RATINGS_FILE
    if ratings.is_file():
        ingest_ratings(engine, ratings)
        typer.echo(f"shoppers: ratings from {ratings.name}")
    else:
        _simulated_ratings(engine)


def _catalog_csv(folder: Path) -> Path:
    if not folder.is_dir():
        raise cli.fail(f"--catalog {folder}: not a folder")
    found = sorted(p for p in folder.glob("*.csv") if p.name != RATINGS_FILE)
    if len(found) != 1:
        raise cli.fail(f"--catalog {folder}: expected one catalog CSV (besides {RATINGS_FILE})"
                       f", found {[p.name for p in found]}")
    return found[0]


def _refuse_other_items(engine: Engine, csv: Path) -> None:
    """A store holding other items (the built-in demo's) would train on those too."""
    from pigen.data.items import read_items_frame

    listed = set(pd.read_csv(csv, dtype=str)["item_id"].str.strip())
    stored = set(read_items_frame(engine)["item_id"])
    if stored - listed:
        raise cli.fail(f"this store holds {len(stored - listed)} items not in {csv.name}; run "
                       "the catalog demo on a store of its own, e.g. "
                       "PIGEN_STORAGE_DIR=var/my-catalog pigen demo --catalog ...")


def _extract_missing(engine: Engine, settings: Settings) -> None:
    from pigen.data.items import read_items_frame

    items = read_items_frame(engine)
    missing = items[items["image_path"].notna() & (items["colour"].isna()
                                                   | items["pattern"].isna())]
    if missing.empty:
        typer.echo("attributes: every item has a colour and a pattern")
        return
    from pigen.data.catalog.extract import extract_catalog_attributes
    from pigen.service.cli.catalog import extraction_dir, prepared_dir

    typer.echo(f"attributes: extracting colour and pattern of {len(missing)} items")
    catalog_dir = settings.storage_dir / "catalog"
    report = extract_catalog_attributes(engine, cache_dir=extraction_dir(catalog_dir),
                                        prepared_dir=prepared_dir(catalog_dir))
    typer.echo(f"attributes: {report}")


def _train(engine: Engine, settings: Settings, steps: int | None) -> None:
    from pigen.generator.catalog_training import train_catalog_generator
    from pigen.generator.config import GeneratorConfig
    from pigen.generator.device import resolve_device
    from pigen.service.cli.catalog import prepared_dir
    from pigen.service.cli.generator import CATALOG_DEFAULTS
    from pigen.service.generator_serving import ensure_generator_version

    device = resolve_device(settings.device)
    total = steps or (CPU_DEFAULT_STEPS if device.type == "cpu" else 5_000)
    if device.type == "cpu":
        typer.echo(f"generator: training {total} steps on the CPU (a CUDA GPU is far "
                   "faster: pass --steps 5000 or more there); images stay rough at this "
                   "length")
    # The catalog defaults; on a short run the D blur fades over its first two thirds.
    blur_steps = min(int(CATALOG_DEFAULTS["d_blur_steps"]), 2 * total // 3)
    config = GeneratorConfig(**{**CATALOG_DEFAULTS, "d_blur_steps": blur_steps}, steps=total,
                             device="cuda" if device.type == "cuda" else "cpu",
                             checkpoint_every=max(1, min(250, total // 4)),
                             eval_every=max(1, total // 4), eval_images=500)
    run_dir = settings.storage_dir / "generator" / "runs" / f"catalog-{total}"
    weights = run_dir / "generator.safetensors"
    if weights.is_file():  # a finished run: serve it (a new --steps trains a new run)
        typer.echo(f"generator: {weights} already trained")
        _activate(engine, ensure_generator_version(engine, weights).id, settings.device)
        return
    result, catalog = train_catalog_generator(
        engine, config, run_dir, prepared_dir(settings.storage_dir / "catalog"),
        skip_incomplete=True, resume=True)
    typer.echo(f"generator: {result.steps} steps on {len(catalog)} items "
               f"({len(catalog.skipped)} left out) -> {result.weights}")
    _activate(engine, ensure_generator_version(engine, result.weights).id, settings.device)


def _activate(engine: Engine, version_id: int, device: str) -> None:
    from pigen.data.model_registry import activate_model_version
    from pigen.service.model_loading import load_checked

    activate_model_version(engine, version_id, check=lambda v: load_checked(v, device))
    typer.echo(f"generator: version {version_id} active")


def _simulated_ratings(engine: Engine, shoppers: int = 300, per_shopper: int = 12,
                       seed: int = 0) -> None:
    """Shoppers who each favour one category: 5 stars there, 1-3 elsewhere."""
    from pigen.data.ingest import ingest_ratings_frame
    from pigen.data.items import read_items_frame

    items = read_items_frame(engine)
    rng = np.random.default_rng(seed)
    categories = sorted(set(items["category"].dropna()))
    rows = []
    for u in range(shoppers):
        favourite = categories[u % len(categories)]
        liked = items["category"] == favourite
        weights = np.where(liked, 4.0, 1.0) / np.where(liked, 4.0, 1.0).sum()
        picks = rng.choice(len(items), size=min(per_shopper, len(items)), replace=False,
                           p=weights)
        for t, k in enumerate(picks):
            stars = 5.0 if liked.iloc[k] else float(rng.integers(1, 4))
            rows.append((f"shopper-{u:04d}", items["item_id"].iloc[k], stars,
                         1_700_000_000 + 60 * (u * per_shopper + t)))
    ingest_ratings_frame(engine, pd.DataFrame(
        rows, columns=["user_id", "item_id", "rating", "timestamp"]))
    typer.echo(f"shoppers: {shoppers} simulated, each favouring one of "
               f"{len(categories)} categories")
