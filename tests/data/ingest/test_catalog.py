"""Catalog ingest: attributes, images kept inside their folder, upserts, bad files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import Engine, select

from pigen.data.ingest import IngestError, ingest_catalog
from pigen.data.ingest.catalog import CatalogOptions
from pigen.data.schema import Item
from tests.utils.store import snapshot, write_csv


def make_images(folder: Path, names: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        Image.fromarray(np.full((32, 32, 3), 128, np.uint8)).save(folder / name)
    return folder


CATALOG = """item_id,category,colour,pattern,image,brand
a,Dress,#FF0000,striped,a.png,acme
b,Bag,,solid,b.png,
"""


def test_catalog_with_images_and_extra_attributes(engine: Engine, tmp_path: Path) -> None:
    images = make_images(tmp_path / "img", ["a.png", "b.png"])
    report = ingest_catalog(engine, write_csv(tmp_path / "c.csv", CATALOG),
                            CatalogOptions(images_dir=images))
    assert report.inserted == 2
    with engine.connect() as connection:
        rows = {r.external_id: r for r in connection.execute(select(Item.__table__))}
    assert rows["a"].colour == "#ff0000" and rows["a"].pattern == "striped"
    assert rows["a"].attributes == {"brand": "acme"}
    assert rows["b"].colour is None
    assert Path(rows["a"].image_path) == (images / "a.png").resolve()


def test_same_catalog_twice_changes_nothing_and_edits_update(engine: Engine,
                                                              tmp_path: Path) -> None:
    images = make_images(tmp_path / "img", ["a.png", "b.png"])
    path = write_csv(tmp_path / "c.csv", CATALOG)
    ingest_catalog(engine, path, CatalogOptions(images_dir=images))
    before = snapshot(engine)
    again = ingest_catalog(engine, path, CatalogOptions(images_dir=images))
    assert (again.inserted, again.updated, again.already_present) == (0, 0, 2)
    assert snapshot(engine) == before
    edited = write_csv(tmp_path / "c2.csv", CATALOG.replace("striped", "dotted"))
    with pytest.raises(IngestError, match=r"line \d, column 'item_id': item '.' is stored "
                                          "with a different pattern"):
        ingest_catalog(engine, edited, CatalogOptions(images_dir=images))  # error by default
    assert snapshot(engine) == before
    kept = ingest_catalog(engine, edited, CatalogOptions(images_dir=images, on_conflict="skip"))
    assert (kept.updated, kept.conflicts_kept, kept.already_present) == (0, 1, 1)
    assert snapshot(engine) == before
    report = ingest_catalog(engine, edited, CatalogOptions(images_dir=images,
                                                           on_conflict="update"))
    assert (report.inserted, report.updated) == (0, 1)


BAD = {
    "missing category": ("item_id,colour\na,#ff0000\n", "missing column 'category'"),
    "duplicate id": ("item_id,category\na,Dress\na,Bag\n",
                     "line 3, column 'item_id': item 'a' already appears on line 2"),
    "bad colour": ("item_id,category,colour\na,Dress,red\n", "colour 'red' is not #rrggbb"),
    "image without folder": ("item_id,category,image\na,Dress,a.png\n", "pass --images DIR"),
    "escaping path": ("item_id,category,image\na,Dress,../secret.png\n",
                      "points outside the images folder"),
    "missing image": ("item_id,category,image\na,Dress,nope.png\n", "image 'nope.png' not found"),
    "not an image": ("item_id,category,image\na,Dress,fake.png\n", "not a readable image"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_catalog_rejected_and_nothing_written(engine: Engine, tmp_path: Path,
                                                 case: str) -> None:
    images = make_images(tmp_path / "img", ["a.png"])
    (images / "fake.png").write_text("not a png")
    make_images(tmp_path, ["secret.png"])
    before = snapshot(engine)
    text, expected = BAD[case]
    uses_images = ",image" in text and case != "image without folder"
    with pytest.raises(IngestError) as error:
        ingest_catalog(engine, write_csv(tmp_path / "c.csv", text),
                       CatalogOptions(images_dir=images if uses_images else None))
    assert expected in str(error.value)
    assert snapshot(engine) == before


def test_frame_with_missing_values_reads_like_empty_cells(engine: Engine) -> None:
    import pandas as pd

    from pigen.data.ingest import ingest_catalog_frame

    frame = pd.DataFrame({"item_id": ["a", "b"], "category": ["Dress", "Bag"],
                          "colour": ["#112233", None], "pattern": [float("nan"), "solid"]})
    assert ingest_catalog_frame(engine, frame).inserted == 2
    with engine.connect() as connection:
        rows = {r.external_id: r for r in connection.execute(select(Item.__table__))}
    assert rows["b"].colour is None and rows["a"].pattern is None
