"""``pigen catalog extract | patterns | name-pattern`` on 30 built-in renders (SQLite)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from pigen.data.catalog.builtin import CatalogConfig, build_builtin_catalog
from pigen.data.datasets.fashion_mnist import FashionMNIST
from pigen.data.schema import Item
from pigen.service.cli import app
from pigen.service.cli.common import open_database

runner = CliRunner()
TINY = {"input_size": 16, "channels": [8, 16], "steps": 15, "batch_size": 8,
        "feature_views": 2, "num_threads": 1}


@pytest.fixture
def fashion_test() -> FashionMNIST:
    from pigen.data.datasets.fashion_mnist import load_fashion_mnist

    try:
        return load_fashion_mnist("test", download=False)
    except FileNotFoundError as error:
        pytest.skip(f"Fashion-MNIST not installed: {error}")


@pytest.mark.slow
@pytest.mark.usefixtures("cli_settings")
def test_extract_patterns_and_naming(tmp_path: Path, fashion_test: FashionMNIST) -> None:
    frame = build_builtin_catalog(CatalogConfig(n_items=30, split="test"), fashion_test,
                                  tmp_path / "shop")
    frame[["item_id", "category", "image"]].to_csv(tmp_path / "shop.csv", index=False)
    (tmp_path / "tiny.json").write_text(json.dumps(TINY))
    assert runner.invoke(app, ["ingest", "catalog", "shop.csv", "--images",
                               "shop/images"]).exit_code == 0
    result = runner.invoke(app, ["catalog", "extract", "--k", "3",
                                 "--encoder-config", "tiny.json"])
    assert result.exit_code == 0, result.output
    assert "30 of 30 prepared" in result.output and "3 groups" in result.output
    sheets = runner.invoke(app, ["catalog", "patterns", "--out", "sheets"])
    assert sheets.exit_code == 0, sheets.output
    assert len(list((tmp_path / "sheets").glob("texture-*.png"))) == 3
    named = runner.invoke(app, ["catalog", "name-pattern", "1", "Striped"])
    assert named.exit_code == 0 and "'striped'" in named.output
    with open_database().connect() as connection:
        rows = list(connection.execute(select(Item.pattern, Item.attributes)))
    group_one = [r for r in rows if r.attributes["extracted"]["texture_group"] == 1]
    assert group_one and all(r.pattern == "striped" for r in group_one)
    assert runner.invoke(app, ["catalog", "name-pattern", "9", "x"]).exit_code == 1
