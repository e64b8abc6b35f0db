"""Ratings rules: stored conflicts, the value range, the id rule — on both databases."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, select

from pigen.data.ingest import IngestError, ingest_ratings, ingest_ratings_frame
from pigen.data.ingest.ratings import RatingsOptions
from pigen.data.schema import Interaction
from tests.utils.store import snapshot, with_catalog, write_csv

FIRST = "user_id,item_id,rating\nu1,i0,5\nu1,i1,3\n"
CHANGED = "user_id,item_id,rating\nu1,i2,4\nu1,i0,1\n"  # line 3 changes a stored value


def values(engine: Engine) -> dict[int, float]:
    with engine.connect() as connection:
        return dict(connection.execute(select(Interaction.item_id, Interaction.value)).all())


def test_stored_conflict_is_an_error_by_default(engine: Engine, tmp_path: Path) -> None:
    with_catalog(engine)
    ingest_ratings(engine, write_csv(tmp_path / "a.csv", FIRST))
    before = snapshot(engine)
    with pytest.raises(IngestError) as error:
        ingest_ratings(engine, write_csv(tmp_path / "b.csv", CHANGED))
    assert "b.csv rejected" in str(error.value)
    assert "line 3, column 'rating': already stored with a different value" in str(error.value)
    assert snapshot(engine) == before


def test_stored_conflict_skip_keeps_and_reports(engine: Engine, tmp_path: Path) -> None:
    with_catalog(engine)
    ingest_ratings(engine, write_csv(tmp_path / "a.csv", FIRST))
    report = ingest_ratings(engine, write_csv(tmp_path / "b.csv", CHANGED),
                            RatingsOptions(on_conflict="skip"))
    assert (report.inserted, report.conflicts_kept, report.already_present) == (1, 1, 0)
    assert "1 conflicting rows skipped" in report.summary()
    assert sorted(values(engine).values()) == [3.0, 4.0, 5.0]


def test_stored_conflict_update_replaces(engine: Engine, tmp_path: Path) -> None:
    with_catalog(engine)
    ingest_ratings(engine, write_csv(tmp_path / "a.csv", FIRST))
    report = ingest_ratings(engine, write_csv(tmp_path / "b.csv", CHANGED),
                            RatingsOptions(on_conflict="update"))
    assert (report.inserted, report.updated, report.already_present) == (1, 1, 0)
    assert sorted(values(engine).values()) == [1.0, 3.0, 4.0]


@pytest.mark.parametrize("rating", ["1e308", "3.5e38", "-2e6", "1000001"])
def test_rating_outside_the_range_is_refused(engine: Engine, tmp_path: Path,
                                             rating: str) -> None:
    """1e308 once made every later ALS fit fail ("NaN or infinite values")."""
    with_catalog(engine)
    before = snapshot(engine)
    with pytest.raises(IngestError, match=r"line 3, column 'rating': .* outside the accepted "
                                          r"range \[-1e\+06, 1e\+06\]"):
        ingest_ratings(engine, write_csv(tmp_path / "r.csv",
                                         f"user_id,item_id,rating\nu1,i0,5\nu1,i1,{rating}\n"))
    assert snapshot(engine) == before


def test_negative_ratings_follow_the_setting(engine: Engine, tmp_path: Path) -> None:
    with_catalog(engine)
    path = write_csv(tmp_path / "r.csv", "user_id,item_id,rating\nu1,i0,-1\nu1,i1,4\n")
    with pytest.raises(IngestError, match="line 2, column 'rating': -1 is outside"):
        ingest_ratings(engine, path, RatingsOptions(value_range=(0.0, 5.0)))
    report = ingest_ratings(engine, path)  # default range: negatives are dislikes
    assert report.negative_values == 1
    assert "1 negative values (dislikes)" in report.summary()


@pytest.mark.parametrize("bad_id", ["a b", "a\nb", "a\x00b", "shopper\N{GRINNING FACE}"])
def test_ids_the_api_cannot_serve_are_refused(engine: Engine, bad_id: str) -> None:
    """NUL was stored by SQLite and a psycopg DataError on PostgreSQL: now one message."""
    with_catalog(engine)
    before = snapshot(engine)
    frame = pd.DataFrame({"user_id": ["ok", bad_id], "item_id": ["i0", "i1"], "rating": [5, 4]})
    with pytest.raises(IngestError, match=r"line 3, column 'user_id': id .* is not valid"):
        ingest_ratings_frame(engine, frame, "r.csv")
    assert snapshot(engine) == before
