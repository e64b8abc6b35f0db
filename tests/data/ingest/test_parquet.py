"""Parquet files pyarrow cannot turn into text columns: messages name file, column and row."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pigen.data.ingest import IngestError
from pigen.data.ingest.readers import read_table

REQUIRED = ("user_id", "item_id", "rating")


def test_list_and_struct_columns_are_named(tmp_path: Path) -> None:
    path = tmp_path / "nested.parquet"
    pq.write_table(pa.table({"user_id": [["a"]], "item_id": [{"x": 1}], "rating": [1.0]}), path)
    with pytest.raises(IngestError) as error:
        read_table(path, REQUIRED)
    message = str(error.value)
    assert message.startswith("nested.parquet rejected")
    assert "line 1, column 'user_id': column 'user_id' holds list<" in message
    assert "column 'item_id' holds struct<" in message


def test_invalid_utf8_names_column_row_and_row_group(tmp_path: Path) -> None:
    path = tmp_path / "bytes.parquet"
    users = pa.array([b"u1", b"u2", b"\xff\xfe"], pa.binary()).view(pa.string())
    pq.write_table(pa.table({"user_id": users, "item_id": ["i0", "i1", "i2"],
                             "rating": [1.0, 2.0, 3.0]}), path, row_group_size=2)
    with pytest.raises(IngestError) as error:
        read_table(path, REQUIRED)
    message = str(error.value)
    assert message.startswith("bytes.parquet rejected")
    assert "line 4, column 'user_id': not valid UTF-8 text (Parquet row 2, row group 1)" \
        in message
