"""Prepared photos are cached by file: extraction and catalog training prepare each photo once."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from pigen.data.catalog.prepared_cache import prepare_cached
from tests.utils.photo_catalog import write_photo_catalog


def test_a_photo_is_prepared_once_until_its_file_changes(tmp_path: Path) -> None:
    frame = write_photo_catalog(tmp_path / "shop", 4)
    ids = [str(i) for i in frame["item_id"]]
    paths = [tmp_path / "shop" / str(name) for name in frame["image"]]
    (tmp_path / "shop" / "broken.png").write_bytes(b"not a png")
    cache = tmp_path / "cache"

    first = prepare_cached([*ids, "broken"], [*paths, tmp_path / "shop" / "broken.png"], 32,
                           cache, progress=False)
    assert first.prepared_now == 4 and first.kept == [0, 1, 2, 3]
    assert [(i, e.reason) for i, e in first.skipped] == [(4, "undecodable")]
    assert first.images.shape == (4, 32, 32, 3) and first.masks.shape == (4, 32, 32)

    # A subset (training asks only for complete items) comes from the cache ...
    subset = prepare_cached(ids[:2], paths[:2], 32, cache, progress=False)
    assert subset.prepared_now == 0
    np.testing.assert_array_equal(subset.images, first.images[:2])
    # ... and does not forget the others.
    again = prepare_cached(ids, paths, 32, cache, progress=False)
    assert again.prepared_now == 0
    np.testing.assert_array_equal(again.masks, first.masks)

    stat = paths[3].stat()  # a replaced photo is prepared again, alone
    os.utime(paths[3], ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert prepare_cached(ids, paths, 32, cache, progress=False).prepared_now == 1
    # Another resolution is another cache.
    assert prepare_cached(ids, paths, 48, cache, progress=False).prepared_now == 4



def test_two_runs_writing_the_same_cache_at_once_both_finish(tmp_path: Path) -> None:
    # Two trainings started side by side once raced on one temporary file name: one
    # moved the file away and the other's replace failed.
    from concurrent.futures import ThreadPoolExecutor

    from pigen.data.catalog.prepared_cache import _read, _write

    r = 64
    entries = {str(i): (f"key{i}", np.full((r, r, 3), i / 400, np.float32),
                        np.ones((r, r), bool)) for i in range(400)}
    path = tmp_path / "cache" / "images-64.npz"
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: _write(path, entries, r), range(16)))
    assert sorted(_read(path, r)) == sorted(entries)
    assert [p.name for p in path.parent.iterdir()] == ["images-64.npz"]
