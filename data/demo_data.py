"""``pigen demo-data``: a complete store from real Fashion-MNIST shapes and simulated shoppers.

Steps: load Fashion-MNIST -> render the built-in catalog (PNG + catalog.csv) ->
ingest it like any user catalog -> simulate shoppers -> ingest their ratings ->
save their hidden tastes. Every step is deterministic under the seeds and
idempotent, so running it twice leaves the same store.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy import Engine

from pigen.data.catalog.builtin import CatalogConfig, build_builtin_catalog
from pigen.data.catalog.contact_sheet import save_contact_sheet
from pigen.data.datasets.fashion_mnist import load_fashion_mnist
from pigen.data.ingest import IngestReport, ingest_catalog, ingest_ratings_frame
from pigen.data.ingest.catalog import CatalogOptions
from pigen.data.ingest.ratings import RatingsOptions
from pigen.data.simulator import SimulatorConfig, save_tastes, simulate

TASTES_FILE = "tastes.jsonl"


@dataclass(frozen=True)
class DemoDataConfig:
    """Sizes and seeds of the demo store."""

    catalog: CatalogConfig = field(default_factory=CatalogConfig)
    simulator: SimulatorConfig = field(default_factory=SimulatorConfig)


@dataclass(frozen=True)
class DemoDataSummary:
    """What was built, for the command's closing summary."""

    catalog: IngestReport
    ratings: IngestReport
    n_items: int
    n_shoppers: int
    n_ratings: int
    rating_shares: dict[int, float]  # stars -> share of ratings
    category_counts: dict[str, int]
    catalog_dir: Path
    contact_sheet: Path
    tastes_path: Path
    step_seconds: dict[str, float]

    def lines(self) -> list[str]:
        shares = "  ".join(f"{stars}*: {share:.0%}" for stars, share in self.rating_shares.items())
        total = sum(self.step_seconds.values())
        return [
            f"catalog   {self.n_items:,} items in {len(self.category_counts)} categories "
            f"-> {self.catalog_dir} (look: {self.contact_sheet})",
            f"shoppers  {self.n_shoppers:,} with hidden tastes -> {self.tastes_path}",
            f"ratings   {self.n_ratings:,} ({self.n_ratings / max(self.n_shoppers, 1):.1f} "
            f"per shopper)  {shares}",
            f"database  items: {self.catalog.summary()}",
            f"          ratings: {self.ratings.summary()}",
            "time      " + ", ".join(f"{k} {v:.1f}s" for k, v in self.step_seconds.items())
            + f" (total {total:.1f}s)",
        ]


def build_demo_data(
    engine: Engine,
    storage_dir: Path,
    config: DemoDataConfig | None = None,
    fashion_mnist_dir: Path | None = None,
    progress: bool = True,
    say: Callable[[str], None] = lambda _: None,
) -> DemoDataSummary:
    """Build the demo store in ``engine`` and under ``storage_dir``; see the module doc."""
    config = config or DemoDataConfig()
    seconds: dict[str, float] = {}

    def step(name: str, message: str) -> Callable[[], None]:
        say(f"[{len(seconds) + 1}/5] {message}")
        started = time.perf_counter()
        return lambda: seconds.__setitem__(name, time.perf_counter() - started)

    done = step("load", "loading Fashion-MNIST")
    fashion = load_fashion_mnist(config.catalog.split, root=fashion_mnist_dir)
    done()

    catalog_dir = storage_dir / "catalog"
    done = step("render", f"rendering {config.catalog.n_items:,} catalog items")
    items = build_builtin_catalog(config.catalog, fashion, catalog_dir, progress=progress)
    sheet = save_contact_sheet(items, catalog_dir / "images", catalog_dir / "contact_sheet.png")
    done()

    done = step("catalog", "ingesting the catalog")
    # The rebuilt catalog is the demo's own: it replaces what an earlier build stored.
    catalog_report = ingest_catalog(engine, catalog_dir / "catalog.csv",
                                    CatalogOptions(images_dir=catalog_dir / "images",
                                                   on_conflict="update"))
    done()

    done = step("simulate", f"simulating {config.simulator.n_shoppers:,} shoppers")
    result = simulate(items, config.simulator, progress=progress)
    tastes_path = save_tastes(storage_dir / "demo" / TASTES_FILE, result.tastes, result.config)
    done()

    done = step("ratings", f"ingesting {len(result.ratings):,} ratings")
    # A rebuild with another seed keeps the ratings already stored (as before
    # conflicts became an error by default).
    ratings_report = ingest_ratings_frame(engine, result.ratings, source="simulated ratings",
                                          options=RatingsOptions(on_conflict="skip"))
    done()

    stars, counts = np.unique(result.ratings["rating"].to_numpy().astype(int),
                              return_counts=True)
    return DemoDataSummary(
        catalog=catalog_report,
        ratings=ratings_report,
        n_items=len(items),
        n_shoppers=int(result.ratings["user_id"].nunique()),
        n_ratings=len(result.ratings),
        rating_shares={int(s): float(c / counts.sum()) for s, c in zip(stars, counts,
                                                                        strict=True)},
        category_counts=items["category"].value_counts().to_dict(),
        catalog_dir=catalog_dir,
        contact_sheet=sheet,
        tastes_path=tastes_path,
        step_seconds=seconds,
    )
