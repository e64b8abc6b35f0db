"""The listed-image cache: exact round trips, a bound by bytes, and an honest byte count."""

from __future__ import annotations

import gc
import hashlib
import tracemalloc

import numpy as np
import pytest

from pigen.data.conditions import ConditionLayout, one_hot
from pigen.service.image_store import ImageRecord
from pigen.service.listed_images import ListedImages

LAYOUT = ConditionLayout.builtin()


def record(k: int, user: str | None = "shopper-001", source: str | None = "model"
           ) -> ImageRecord:
    rng = np.random.default_rng(k)
    condition = one_hot(LAYOUT, LAYOUT.categories[k % LAYOUT.n_categories],
                        tuple(float(c) for c in rng.random(3)),
                        LAYOUT.patterns[k % LAYOUT.n_patterns])
    image_id = hashlib.sha256(str(k).encode()).hexdigest()[:32]
    return ImageRecord(image_id, user, None if user is None else 7, 3, condition,
                       2**63 - 1 - k, source)


@pytest.mark.parametrize("made", [record(1), record(2, user=None, source=None),
                                  record(3, user="ünïcode-shopper", source="folded"),
                                  record(4, source="a-source-of-its-own")])
def test_a_remembered_record_comes_back_exactly(made: ImageRecord) -> None:
    cache = ListedImages(1 << 20)
    cache.put([made])
    assert made.image_id in cache
    assert cache.get(made.image_id) == made  # condition values bit for bit, seed, versions
    assert cache.get("0" * 32) is None and "0" * 32 not in cache


def test_the_oldest_are_forgotten_beyond_the_byte_bound() -> None:
    one = ListedImages(1 << 20)
    one.put([record(0)])
    per_entry = one.size_bytes
    cache = ListedImages(10 * per_entry)
    cache.put(record(k) for k in range(25))
    assert len(cache) == 10 and cache.size_bytes <= cache.max_bytes
    assert cache.get(record(14).image_id) is None
    assert cache.get(record(15).image_id) == record(15)
    cache.put([record(15)])  # listed again: newest, and counted once
    cache.put([record(25)])
    assert cache.get(record(15).image_id) is not None and cache.get(record(16).image_id) is None
    assert len(cache) == 10 and cache.size_bytes == 10 * per_entry


def test_a_zero_bound_remembers_nothing() -> None:
    cache = ListedImages(0)
    cache.put([record(0)])
    assert len(cache) == 0 and cache.size_bytes == 0
    with pytest.raises(ValueError, match="max_bytes"):
        ListedImages(-1)


def test_the_byte_count_covers_what_the_entries_really_take() -> None:
    # The bound is only a bound if the cache's own count is at least the memory used.
    records = [record(k) for k in range(5000)]
    cache = ListedImages(1 << 30)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    cache.put(records)
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    used = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    assert used <= cache.size_bytes
    assert cache.size_bytes / len(records) < 400  # was ~830 bytes an image as dataclasses
