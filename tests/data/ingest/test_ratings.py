"""Ratings ingest: good files, every kind of bad file, idempotence — on both databases."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, func, select

from pigen.data.ingest import IngestError, ingest_ratings
from pigen.data.ingest.ratings import RatingsOptions
from pigen.data.schema import Interaction
from tests.utils.store import snapshot, with_catalog, write_csv

GOOD = """user_id,item_id,rating,timestamp
u1,i0,5,1700000000
u1,i1,3,1700000100
u2,i0,4,2024-01-02T03:04:05Z
u2,i2,1,1700000300
"""


def count(engine: Engine, column) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as connection:
        return int(connection.execute(select(func.count(column))).scalar_one())


def test_good_file_loads_users_and_interactions(engine: Engine, tmp_path: Path) -> None:
    with_catalog(engine)
    report = ingest_ratings(engine, write_csv(tmp_path / "r.csv", GOOD))
    assert (report.rows_read, report.inserted, report.new_users) == (4, 4, 2)
    assert count(engine, Interaction.user_id) == 4
    with engine.connect() as connection:
        stamp = connection.execute(select(Interaction.occurred_at).where(
            Interaction.value == 4.0)).scalar_one()
    assert stamp == 1704164645  # 2024-01-02T03:04:05Z


def test_same_file_twice_adds_nothing(engine: Engine, tmp_path: Path) -> None:
    with_catalog(engine)
    path = write_csv(tmp_path / "r.csv", GOOD)
    ingest_ratings(engine, path)
    before = snapshot(engine)
    again = ingest_ratings(engine, path)
    assert (again.inserted, again.already_present, again.new_users) == (0, 4, 0)
    assert snapshot(engine) == before


def test_parquet_with_mapped_columns(engine: Engine, tmp_path: Path) -> None:
    with_catalog(engine)
    frame = pd.DataFrame({"userId": ["a", "b"], "movieId": ["i3", "i4"], "stars": [2.5, 4.0],
                          "when": pd.to_datetime(["2024-05-01", "2024-05-02"], utc=True)})
    path = tmp_path / "r.parquet"
    frame.to_parquet(path)
    options = RatingsOptions(columns={"user_id": "userId", "item_id": "movieId",
                                      "rating": "stars", "timestamp": "when"})
    report = ingest_ratings(engine, path, options)
    assert report.inserted == 2
    with engine.connect() as connection:
        stamps = sorted(connection.execute(select(Interaction.occurred_at)).scalars())
    assert stamps == [1714521600, 1714608000]


BAD_FILES = {
    "missing column": ("user_id,item_id,timestamp\nu1,i0,1\n", "missing column 'rating'"),
    "non-numeric rating": ("user_id,item_id,rating\nu1,i0,5\nu1,i1,great\n",
                           "line 3, column 'rating': 'great' is not a number"),
    "unknown item": ("user_id,item_id,rating\nu1,i0,5\nu2,nope,4\n",
                     "line 3, column 'item_id': unknown item 'nope'"),
    "bad timestamp": ("user_id,item_id,rating,timestamp\nu1,i0,5,yesterday\n",
                      "line 2, column 'timestamp': bad timestamp 'yesterday'"),
    "milliseconds": ("user_id,item_id,rating,timestamp\nu1,i0,5,1700000000000\n",
                     "--timestamp-unit ms"),
    "empty file": ("", "the file is empty"),
    "header only": ("user_id,item_id,rating\n", "no data rows"),
    "empty user": ("user_id,item_id,rating\n ,i0,5\n", "line 2, column 'user_id': empty id"),
    "unknown kind": ("user_id,item_id,rating,kind\nu1,i0,5,like\n", "unknown kind 'like'"),
    "ragged row": ("user_id,item_id,rating\nu1,i0,5,9\n", "not a readable CSV"),
    "conflicting repeat": ("user_id,item_id,rating\nu1,i0,5\nu1,i0,2\n",
                           "line 3, column 'rating': repeats an earlier row"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_file_is_rejected_and_changes_nothing(engine: Engine, tmp_path: Path,
                                                  case: str) -> None:
    with_catalog(engine)
    ingest_ratings(engine, write_csv(tmp_path / "good.csv", GOOD))
    before = snapshot(engine)
    text, expected = BAD_FILES[case]
    with pytest.raises(IngestError) as error:
        ingest_ratings(engine, write_csv(tmp_path / "bad.csv", text))
    assert expected in str(error.value)
    assert "nothing was written" in str(error.value)
    assert snapshot(engine) == before


def test_wrong_encoding_names_the_line(sqlite_engine: Engine, tmp_path: Path) -> None:
    with_catalog(sqlite_engine)
    path = write_csv(tmp_path / "latin.csv", "user_id,item_id,rating\nu1,i0,5\nJosé,i1,4\n",
                     encoding="latin-1")
    with pytest.raises(IngestError, match="line 3: not valid utf-8"):
        ingest_ratings(sqlite_engine, path)
    # Decoded as latin-1, 'José' reaches the id rule the API applies too (ASCII ids).
    with pytest.raises(IngestError, match="line 3, column 'user_id': id 'José' is not valid"):
        ingest_ratings(sqlite_engine, path, RatingsOptions(encoding="latin-1"))


def test_unknown_item_fails_after_new_users_were_seen(engine: Engine, tmp_path: Path) -> None:
    """Users are created in the same transaction as interactions: a late failure rolls back."""
    with_catalog(engine)
    before = snapshot(engine)
    with pytest.raises(IngestError):
        ingest_ratings(engine, write_csv(tmp_path / "r.csv",
                                         "user_id,item_id,rating\nnew,i0,5\nnew2,zzz,1\n"))
    assert snapshot(engine) == before


def test_exact_repeats_in_a_file_are_skipped(engine: Engine, tmp_path: Path) -> None:
    with_catalog(engine)
    report = ingest_ratings(engine, write_csv(
        tmp_path / "r.csv", "user_id,item_id,rating\nu1,i0,5\nu1,i0,5\nu1,i1,4\n"))
    assert (report.inserted, report.duplicates_in_file) == (2, 1)
