"""Catalog files that must be refused with a message, not a traceback: bombs and bad ids."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, select

from pigen.data.ingest import IngestError, ingest_catalog, ingest_catalog_frame
from pigen.data.ingest.catalog import CatalogOptions
from pigen.data.schema import Item
from tests.utils.store import snapshot, write_csv


def png_header_only(path: Path, width: int, height: int) -> Path:
    """A few-byte PNG that claims ``width`` x ``height``: what a decompression bomb shows PIL."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
                     + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize("side", [7_000, 20_000])  # over our limit; over PIL's bomb limit too
def test_huge_png_is_refused_by_its_header(engine: Engine, tmp_path: Path, side: int) -> None:
    images = tmp_path / "img"
    images.mkdir()
    png_header_only(images / "bomb.png", side, side)
    before = snapshot(engine)
    with pytest.raises(IngestError) as error:
        ingest_catalog(engine, write_csv(tmp_path / "c.csv",
                                         "item_id,category,image\na,Dress,bomb.png\n"),
                       CatalogOptions(images_dir=images))
    message = str(error.value)
    assert message.startswith("c.csv rejected")
    assert "line 2, column 'image'" in message and "bomb.png" in message
    assert snapshot(engine) == before


@pytest.mark.parametrize("bad_id", ["a b", "a\nb", "a\x00b", "dress\N{GRINNING FACE}",
                                    "-lead", "x" * 129])
def test_ids_the_api_cannot_serve_are_refused(engine: Engine, tmp_path: Path,
                                              bad_id: str) -> None:
    """The same rule on every backend: SQLite would store NUL, PostgreSQL raised DataError."""
    before = snapshot(engine)
    with pytest.raises(IngestError, match=r"line 3, column 'item_id': id (.*not valid|longer)"):
        ingest_catalog_frame(engine, pd.DataFrame({"item_id": ["ok-1", bad_id],
                                                   "category": ["Dress", "Bag"]}), "c.csv")
    assert snapshot(engine) == before


def test_ten_megabyte_description_loads(engine: Engine, tmp_path: Path) -> None:
    """A field longer than pyarrow's 1 MB block ("straddles two block boundaries")."""
    description = "long " * 2_000_000  # 10 MB
    path = write_csv(tmp_path / "c.csv",
                     f'item_id,category,description\na,Dress,"{description}"\nb,Bag,short\n')
    assert ingest_catalog(engine, path).inserted == 2
    with engine.connect() as connection:
        stored = connection.execute(select(Item.attributes).where(Item.external_id == "a")
                                    ).scalar_one()
    assert stored["description"] == description.strip()


def test_nul_in_any_text_is_refused_on_every_backend(engine: Engine) -> None:
    before = snapshot(engine)
    with pytest.raises(IngestError, match=r"line 2, column 'note': .*NUL"):
        ingest_catalog_frame(engine, pd.DataFrame({"item_id": ["a"], "category": ["Dress"],
                                                   "note": ["x\x00y"]}), "c.csv")
    assert snapshot(engine) == before
