"""CSV reading: headers pyarrow chokes on, fields longer than its blocks, no thread pool."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pigen.data.ingest import IngestError
from pigen.data.ingest.readers import read_table
from tests.utils.store import write_csv

REQUIRED = ("user_id", "item_id", "rating")


def test_duplicate_header_is_named_not_a_key_error(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "dup.csv", "user_id,item_id,rating,rating\nu1,i0,5,4\n")
    with pytest.raises(IngestError) as error:
        read_table(path, REQUIRED)
    assert "dup.csv rejected" in str(error.value)
    assert "line 1, column 'rating': column 'rating' appears 2 times in the header" \
        in str(error.value)


def test_field_longer_than_a_block_is_read(tmp_path: Path) -> None:
    long_id = "x" * (3 << 20)  # 3 MB: straddles pyarrow's 1 MB blocks
    path = write_csv(tmp_path / "long.csv", f"user_id,item_id,rating\n{long_id},i0,5\nu2,i1,4\n")
    table = read_table(path, REQUIRED)
    assert table.num_rows == 2
    assert table.columns["user_id"][0].as_py() == long_id


def _threads() -> int:
    return len(os.listdir("/proc/self/task"))


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
def test_reading_starts_no_arrow_threads(tmp_path: Path) -> None:
    """Arrow pool threads alive at exit made rejected CLI ingests abort (rc 134)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    csv_path = write_csv(tmp_path / "r.csv", "user_id,item_id,rating\n" + "u,i,1\n" * 50_000)
    parquet_path = tmp_path / "r.parquet"
    pq.write_table(pa.table({"user_id": ["u"] * 1000, "item_id": ["i"] * 1000,
                             "rating": [1.0] * 1000}), parquet_path, row_group_size=100)
    before = _threads()
    read_table(csv_path, REQUIRED)
    read_table(parquet_path, REQUIRED)
    assert _threads() == before
