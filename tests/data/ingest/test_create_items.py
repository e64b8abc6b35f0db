"""``create_items``: a ratings file alone makes a store (unknown items get no attributes)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from pigen.data.ingest import IngestError, ingest_ratings
from pigen.data.ingest.ratings import RATINGS_ONLY, RatingsOptions
from pigen.data.items import catalog_layout, read_items_frame
from pigen.data.schema import Item
from tests.utils.store import snapshot, with_catalog, write_csv

CREATE = RatingsOptions(create_items=True)


def test_unknown_items_are_created_flagged_and_without_attributes(engine: Engine,
                                                                  tmp_path: Path) -> None:
    path = write_csv(tmp_path / "r.csv", "user_id,item_id,rating\nu1,m1,5\nu2,m1,3\nu2,m2,4\n")
    report = ingest_ratings(engine, path, CREATE)
    assert report.inserted == 3 and report.new_items == 2 and report.new_users == 2
    assert "2 new items without attributes" in report.summary()
    with engine.connect() as connection:
        rows = connection.execute(select(Item.external_id, Item.category, Item.colour,
                                         Item.pattern, Item.attributes)
                                  .order_by(Item.external_id)).all()
    assert [tuple(r) for r in rows] == [("m1", "", None, None, RATINGS_ONLY),
                                        ("m2", "", None, None, RATINGS_ONLY)]
    frame = read_items_frame(engine)
    assert frame["category"].isna().all()  # no category, not a category named ""
    assert catalog_layout(frame).categories == catalog_layout(frame.iloc[:0]).categories
    again = ingest_ratings(engine, path, CREATE)
    assert again.inserted == 0 and again.new_items == 0


def test_known_items_keep_their_attributes_and_only_unknown_ones_are_made(
        engine: Engine, tmp_path: Path) -> None:
    with_catalog(engine)
    path = write_csv(tmp_path / "r.csv", "user_id,item_id,rating\nu1,i0,5\nu1,new,2\n")
    assert ingest_ratings(engine, path, CREATE).new_items == 1
    frame = read_items_frame(engine).set_index("item_id")
    assert frame.loc["i0", "category"] == "Trouser" and frame.loc["new", "category"] is None


def test_without_the_flag_an_unknown_item_still_rejects_the_file(engine: Engine,
                                                                 tmp_path: Path) -> None:
    before = snapshot(engine)
    path = write_csv(tmp_path / "r.csv", "user_id,item_id,rating\nu1,m1,5\n")
    with pytest.raises(IngestError, match="or pass --create-items"):
        ingest_ratings(engine, path)
    assert snapshot(engine) == before


def test_a_bad_row_rolls_back_the_created_items_too(engine: Engine, tmp_path: Path) -> None:
    before = snapshot(engine)
    path = write_csv(tmp_path / "r.csv", "user_id,item_id,rating\nu1,m1,5\nu1,m1,4\n")
    with pytest.raises(IngestError, match="repeats an earlier row"):
        ingest_ratings(engine, path, CREATE)
    assert snapshot(engine) == before
