"""A cached image file that is truncated or corrupt: detected, made again, never served."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pigen.service.png_check import png_intact
from tests.faults.conftest import files_under

pytestmark = pytest.mark.slow


def truncate(data: bytes) -> bytes:
    return data[: len(data) // 2]


def flip_a_pixel_byte(data: bytes) -> bytes:
    at = data.index(b"IDAT") + 8  # inside the compressed pixels
    return data[:at] + bytes([data[at] ^ 0x5A]) + data[at + 1:]


def empty(data: bytes) -> bytes:
    return b""


def drop_the_end(data: bytes) -> bytes:
    return data[:-12]  # IEND gone: a write cut off at the last chunk


@pytest.mark.parametrize("damage", [truncate, flip_a_pixel_byte])
def test_a_damaged_cached_file_is_made_again_not_served(
        make_client, tmp_path: Path, damage: Callable[[bytes], bytes]) -> None:  # type: ignore[no-untyped-def]
    first = make_client()
    url = first.get("/v1/users/shopper-005/images", params={"n": 1}).json()["images"][0]["url"]
    good = first.get(url)
    assert good.status_code == 200 and png_intact(good.content)
    [cached] = files_under(tmp_path / "var" / "images")
    assert cached.read_bytes() == good.content
    cached.write_bytes(damage(good.content))  # a disk error, a crash, a careless copy
    assert not png_intact(cached.read_bytes())

    restarted = make_client()  # a new process: nothing in memory, the file is all it has
    again = restarted.get(url)
    assert again.status_code == 200, again.text
    assert again.content == good.content  # made again, the same bytes
    assert cached.read_bytes() == good.content  # and the good file replaced the bad one
    assert 'pigen_image_cache_total{outcome="corrupt"} 1.0' in restarted.get("/metrics").text
    webp = restarted.get(url.replace(".png", ".webp"))
    assert webp.status_code == 200 and webp.content[:4] == b"RIFF"


def test_png_intact_accepts_whole_files_only() -> None:
    import numpy as np

    from pigen.generator.encode import png_bytes

    data = png_bytes(np.zeros((8, 8, 3), dtype=np.uint8))
    assert png_intact(data)
    for damaged in (truncate(data), flip_a_pixel_byte(data), empty(data), drop_the_end(data),
                    data + b"trailing", b"GIF89a" + data[6:]):
        assert not png_intact(damaged)
