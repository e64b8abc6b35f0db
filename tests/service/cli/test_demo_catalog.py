"""``pigen demo --catalog DIR`` up to serving: ingest, train, activate, shoppers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pigen.data.model_registry import active_model_version
from tests.utils.photo_catalog import CATEGORIES, write_photo_catalog


@pytest.mark.slow
def test_a_photo_folder_becomes_a_served_catalog(cli_settings: Path) -> None:
    from pigen.service.cli import common as cli
    from pigen.service.cli.demo_catalog import prepare_catalog_demo

    folder = cli_settings / "shop"
    write_photo_catalog(folder, 9).to_csv(folder / "catalog.csv", index=False)
    engine = cli.open_database()
    prepare_catalog_demo(engine, cli.load_settings(), folder, steps=2)
    active = active_model_version(engine, "generator")
    assert active is not None and active.config["layout"]["categories"] == list(CATEGORIES)
    # the catalog defaults, with the D blur fading within the (short) run
    runs = cli.load_settings().storage_dir / "generator" / "runs"
    trained = json.loads((runs / "catalog-2" / "config.json").read_text())
    assert trained["resolution"] == 64 and trained["d_blur_sigma"] > 0
    assert trained["d_blur_steps"] <= 2
    # run again: nothing is prepared or trained twice, the same version stays active
    prepare_catalog_demo(engine, cli.load_settings(), folder, steps=2)
    again = active_model_version(engine, "generator")
    assert again is not None and again.id == active.id
