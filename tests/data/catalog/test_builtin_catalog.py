"""The built-in catalog: deterministic files, balanced categories, re-makeable items."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from pigen.data.catalog.builtin import (
    CATEGORIES,
    CSV_COLUMNS,
    CatalogConfig,
    build_builtin_catalog,
    render_item,
)
from pigen.data.catalog.palette import PALETTE, from_hex
from pigen.data.catalog.render import PATTERNS
from pigen.data.datasets.fashion_mnist import FashionMNIST


def files_of(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def test_same_seed_same_bytes(fashion_train: FashionMNIST, tmp_path: Path) -> None:
    config = CatalogConfig(n_items=40, seed=3)
    first = build_builtin_catalog(config, fashion_train, tmp_path / "a")
    second = build_builtin_catalog(config, fashion_train, tmp_path / "b")
    pd.testing.assert_frame_equal(first, second)
    files_a, files_b = files_of(tmp_path / "a"), files_of(tmp_path / "b")
    assert len(files_a) == 41 and files_a == files_b  # 40 PNGs + catalog.csv, byte for byte
    other = build_builtin_catalog(CatalogConfig(n_items=40, seed=4), fashion_train, tmp_path / "c")
    assert not other["source_index"].equals(first["source_index"])


def test_csv_and_images(fashion_train: FashionMNIST, tmp_path: Path) -> None:
    config = CatalogConfig(n_items=40, seed=0)
    frame = build_builtin_catalog(config, fashion_train, tmp_path)
    assert tuple(frame.columns) == CSV_COLUMNS
    on_disk = pd.read_csv(tmp_path / "catalog.csv", dtype={"item_id": str})
    assert tuple(on_disk.columns) == CSV_COLUMNS and len(on_disk) == 40
    assert frame["item_id"].tolist() == [f"item-{k:05d}" for k in range(1, 41)]
    assert frame["item_id"].is_unique
    for row in on_disk.to_dict("records"):
        label = int(row["label"])
        assert fashion_train.labels[row["source_index"]] == label
        assert row["category"] == CATEGORIES[label]
        assert row["pattern"] in PATTERNS
        # Jitter is 0.05 per channel: the hex stays within ~5 sigma of its palette anchor.
        distance = np.linalg.norm(np.subtract(from_hex(row["colour"]), PALETTE[row["colour_name"]]))
        assert distance < 0.45
        image = np.asarray(Image.open(tmp_path / "images" / row["image"]))
        assert image.shape == (32, 32, 3) and image.dtype == np.uint8
        # The CSV row and the seed re-make the PNG exactly.
        np.testing.assert_array_equal(render_item(row, fashion_train, config.seed), image)


def test_balanced_across_categories(fashion_train: FashionMNIST, tmp_path: Path) -> None:
    frame = build_builtin_catalog(CatalogConfig(n_items=40), fashion_train, tmp_path / "even")
    assert frame["category"].value_counts().to_dict() == dict.fromkeys(CATEGORIES, 4)
    frame = build_builtin_catalog(CatalogConfig(n_items=43), fashion_train, tmp_path / "odd")
    counts = frame["category"].value_counts()
    assert set(counts.index) == set(CATEGORIES) and set(counts) == {4, 5} and counts.sum() == 43
    assert frame["source_index"].is_unique


def test_pattern_weights(fashion_train: FashionMNIST, tmp_path: Path) -> None:
    config = CatalogConfig(n_items=20, pattern_weights=(1.0, 0.0, 0.0, 0.0), colour_jitter=0.0)
    frame = build_builtin_catalog(config, fashion_train, tmp_path)
    assert set(frame["pattern"]) == {"solid"}
    white = frame[frame["colour_name"] == "white"]
    assert (white["colour"] == "#ffffff").all()  # no jitter: palette colours exactly


def test_config_is_checked() -> None:
    with pytest.raises(ValueError, match="n_items"):
        CatalogConfig(n_items=0)
    with pytest.raises(ValueError, match="pattern_weights needs 4"):
        CatalogConfig(pattern_weights=(1.0, 1.0))
    with pytest.raises(ValueError, match="positive sum"):
        CatalogConfig(pattern_weights=(0.0, 0.0, 0.0, 0.0))
    with pytest.raises(ValueError, match="colour_jitter"):
        CatalogConfig(colour_jitter=-0.1)
    with pytest.raises(TypeError):
        CatalogConfig(items=3)  # type: ignore[call-arg]


def test_split_must_match(fashion_test: FashionMNIST, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="asks for the 'train' split"):
        build_builtin_catalog(CatalogConfig(n_items=10), fashion_test, tmp_path)
