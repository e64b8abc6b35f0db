"""Extraction on a labelled and an unlabelled catalog of built-in renders (SQLite and
PostgreSQL): labels win, gaps are filled in one transaction, agreement is reported."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from pigen.data.catalog.builtin import CatalogConfig, build_builtin_catalog
from pigen.data.catalog.extract import GROUPS_FILE, extract_catalog_attributes
from pigen.data.catalog.texture import TextureEncoderConfig
from pigen.data.datasets.fashion_mnist import FashionMNIST
from pigen.data.ingest.catalog import CatalogOptions, ingest_catalog_frame
from pigen.data.schema import Item

TINY = TextureEncoderConfig(input_size=16, channels=(8, 16), steps=15, batch_size=8,
                            feature_views=2, num_threads=1)


def store(engine: Engine, tmp_path: Path, fashion: FashionMNIST, labelled: bool) -> None:
    frame = build_builtin_catalog(CatalogConfig(n_items=30, split="test"), fashion,
                                  tmp_path / "catalog")
    frame = frame[["item_id", "category", "image"]
                  + (["colour", "colour_name", "pattern"] if labelled else [])]
    ingest_catalog_frame(engine, frame, options=CatalogOptions(
        images_dir=tmp_path / "catalog" / "images"))


def stored(engine: Engine) -> list[Item]:
    with engine.connect() as connection:
        return list(connection.execute(select(Item.__table__).order_by(Item.id)))


@pytest.mark.slow
def test_unlabelled_catalog_gets_colour_and_texture(engine: Engine, tmp_path: Path,
                                                    fashion_test: FashionMNIST) -> None:
    store(engine, tmp_path, fashion_test, labelled=False)
    report = extract_catalog_attributes(engine, cache_dir=tmp_path / "cache", k=3,
                                        encoder_config=TINY, progress=False)
    assert report.prepared == 30 and not report.skipped
    assert report.colour_filled == 30 and report.pattern_filled == 30
    assert report.colour_delta_e_median is None  # nothing to agree with
    items = stored(engine)
    assert all(i.colour and i.colour.startswith("#") and i.colour_name for i in items)
    assert {i.pattern for i in items} <= {"texture-1", "texture-2", "texture-3"}
    extracted = items[0].attributes["extracted"]
    assert extracted["colour_source"] == "extracted"
    assert extracted["pattern_source"] == "extracted"
    assert 1 <= extracted["texture_group"] <= 3
    assert (tmp_path / "cache" / GROUPS_FILE).is_file()


@pytest.mark.slow
def test_labels_win_and_agreement_is_reported(engine: Engine, tmp_path: Path,
                                              fashion_test: FashionMNIST) -> None:
    store(engine, tmp_path, fashion_test, labelled=True)
    before = {i.external_id: (i.colour, i.colour_name, i.pattern) for i in stored(engine)}
    report = extract_catalog_attributes(engine, cache_dir=tmp_path / "cache", k=4,
                                        encoder_config=TINY, progress=False)
    assert report.colour_filled == 0 and report.pattern_filled == 0
    assert report.colour_labelled == 30 and report.pattern_labelled == 30
    assert report.colour_delta_e_median is not None and report.colour_delta_e_median < 25
    assert report.colour_name_agreement is not None and report.colour_name_agreement > 0.5
    assert report.pattern_ari is not None and -1 <= report.pattern_ari <= 1
    for item in stored(engine):
        assert (item.colour, item.colour_name, item.pattern) == before[item.external_id]
        assert item.attributes["extracted"]["colour_source"] == "label"
