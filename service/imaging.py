"""Personalised images, end to end: taste -> conditions -> ids and rows -> batched pixels.

Listing images is cheap and never waits for the generator: it samples the
conditions, records one provenance row per image and returns URLs. Pixels are
made when a URL is first fetched, through the micro-batcher, so concurrent
shoppers' images share generator forwards; after that they come from disk.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from sqlalchemy import Engine

from pigen.data.conditions import ConditionVector, one_hot
from pigen.recsys.condition_sampling import sample_seeds
from pigen.service.batching import MicroBatcher
from pigen.service.image_store import (
    ImageFiles,
    ImageRecord,
    encode_variant,
    find_image,
    image_id_for,
    prune_unfetched,
    record_images,
    valid_image_id,
)
from pigen.service.listed_images import ListedImages
from pigen.service.metrics import ServiceMetrics
from pigen.service.runtime import ModelSet, Runtime
from pigen.service.taste import UserTaste, taste_for_user

#: One image to make: (image id, condition vector (D,) float32, seed).
Job = tuple[str, np.ndarray, int]
#: Bytes of memory remembering listed images (settings: ``PIGEN_LISTED_CACHE_BYTES``).
LISTED_CACHE_BYTES = 8 * 1024 * 1024
#: Provenance rows of listed, never fetched images kept in the database (settings:
#: ``PIGEN_MAX_UNFETCHED_IMAGES``); pruning runs after every tenth of this many listed.
UNFETCHED_KEPT = 100_000
#: Threads writing one batch's image files at once (each waits on its own fsync).
IMAGE_WRITERS = 8


@dataclass(frozen=True)
class MadeImage:
    """A listed image: its record and the colour name its condition was drawn as."""

    record: ImageRecord
    colour_name: str | None


@dataclass(frozen=True)
class UserImages:
    taste: UserTaste
    model_set: ModelSet
    images: tuple[MadeImage, ...]


class ImageService:
    """Lists images for shoppers and merchandisers, and serves their bytes."""

    def __init__(self, engine: Engine, runtime: Runtime, files: ImageFiles,
                 metrics: ServiceMetrics, batch_max_size: int, batch_max_wait_ms: float,
                 batch_max_queue: int = 256, batch_timeout_s: float = 10.0, *,
                 unfetched_kept: int = UNFETCHED_KEPT,
                 listed_cache_bytes: int = LISTED_CACHE_BYTES) -> None:
        self.engine = engine
        self.runtime = runtime
        self.files = files
        self.metrics = metrics
        self.batcher: MicroBatcher[Job, bytes] = MicroBatcher(
            self._generate_batch, batch_max_size, batch_max_wait_ms,
            on_batch=metrics.observe_batch, max_queue=batch_max_queue,
            timeout_s=batch_timeout_s, on_shed=metrics.observe_shed,
            finish=self._store_batch)
        self._locks: dict[str, asyncio.Lock] = {}
        self.listed = ListedImages(listed_cache_bytes)  # thread-safe: listing runs in a pool
        self._prune_lock = threading.Lock()
        self._writers = ThreadPoolExecutor(max_workers=IMAGE_WRITERS,
                                           thread_name_prefix="pigen-image-write")
        self.unfetched_kept = unfetched_kept
        self._recorded_since_prune = 0

    # -- listing (blocking: routes run these in the thread pool) -------------------------

    def images_for_user(self, user_id: str, n: int, seed: int, diversity: float,
                        generator_version: int | None = None) -> UserImages:
        """``n`` images drawn from the shopper's taste (the popularity prior when unknown).

        ``generator_version`` pins another registered generator (an experiment's
        variant); ``LookupError`` if there is no such version.
        """
        model_set = self.runtime.current  # one set for the whole request
        # Only what makes the image names it: the ranking model does not.
        versions = {"als": model_set.als_version.id, "generator": model_set.generator_version.id}
        attributes = model_set.attributes
        if generator_version is not None and generator_version != versions["generator"]:
            # fail now, not at the first fetch; conditions in the pinned one's layout
            pinned = self.runtime.generator_for(generator_version)
            attributes = self.runtime.attributes_in(model_set, pinned.layout)
            versions["generator"] = generator_version
        taste = taste_for_user(self.engine, user_id, n, seed, diversity,
                               model=(model_set.als_version, model_set.als),
                               attributes=attributes)
        made = []
        for sample in taste.samples:
            record = ImageRecord(
                image_id_for(user_id, versions, sample.condition, sample.seed),
                user_id, model_set.als_version.id, versions["generator"],
                sample.condition, sample.seed, taste.source)
            made.append(MadeImage(record, sample.colour_name))
        self._record_listed(made)
        return UserImages(taste, model_set, tuple(made))

    def explicit_images(self, conditions: Sequence[tuple[str, tuple[float, float, float], str,
                                                         int, int]]) -> list[MadeImage]:
        """Images of given (category, rgb, pattern, seed, n): n seeds hashed from each seed.

        ``ValueError`` names an unknown category or pattern.
        """
        model_set = self.runtime.current
        layout = model_set.generator.layout
        versions: dict[str, int | None] = {"als": None,
                                           "generator": model_set.generator_version.id}
        made = []
        for category, rgb, pattern, seed, n in conditions:
            vector = one_hot(layout, category, rgb, pattern)
            for image_seed in sample_seeds(seed, n):
                record = ImageRecord(image_id_for(None, versions, vector, int(image_seed)), None,
                                     None, model_set.generator_version.id, vector,
                                     int(image_seed), None)
                made.append(MadeImage(record, None))
        self._record_listed(made)
        return made

    # -- bytes ---------------------------------------------------------------------------

    async def image_bytes(self, image_id: str, fmt: str, size: int | None) -> bytes | None:
        """The image in ``fmt`` at ``size`` (None: native); None when no such image exists."""
        if not valid_image_id(image_id):
            return None
        key = (image_id, fmt, size)
        data = self.files.remembered(key)
        if data is not None:
            self.metrics.image_cache.labels("memory").inc()
            return data
        png = await self.canonical_png(image_id)
        if png is None:
            return None
        data = png if (fmt == "png" and size is None) else await asyncio.to_thread(
            encode_variant, png, fmt, size)
        self.files.remember(key, data)
        return data

    async def has_image(self, image_id: str) -> bool:
        """Whether ``image_id`` names an image this service can serve (made or listed)."""
        if not valid_image_id(image_id):
            return False
        if self.files.path_of(image_id).is_file():
            return True
        if image_id in self.listed:
            return True
        return await asyncio.to_thread(find_image, self.engine, image_id) is not None

    async def canonical_png(self, image_id: str) -> bytes | None:
        """The native-size PNG: from disk, or made once (concurrent askers share one make)."""
        # A canonical PNG is ~1 KB: reading it on the loop costs less than a thread hop.
        png = self.files.read(image_id)
        if png is not None:
            self.metrics.image_cache.labels("disk").inc()
            return png
        lock = self._locks.setdefault(image_id, asyncio.Lock())
        try:
            async with lock:
                if lock is not self._locks.get(image_id):
                    # Another request held this lock and finished: the image is likely
                    # on disk now (if that request failed, we make it ourselves).
                    png = self.files.read(image_id)
                    if png is not None:
                        self.metrics.image_cache.labels("disk").inc()
                        return png
                listed = self.listed.get(image_id)
                if listed is not None:
                    job = (listed.generator_version, listed.condition.to_array(), listed.seed)
                else:  # listed by another process, or before a restart
                    stored = await asyncio.to_thread(find_image, self.engine, image_id)
                    if stored is None:
                        return None
                    job = (stored.generator_version, _condition_array(stored.condition),
                           stored.seed)
                self.metrics.image_cache.labels("miss").inc()
                generator_version, condition, seed = job
                return await self.batcher.submit(generator_version, (image_id, condition, seed))
        finally:
            if not lock.locked() and self._locks.get(image_id) is lock:
                del self._locks[image_id]

    def _record_listed(self, made: Sequence[MadeImage]) -> None:
        """Record listed images (database and memory); keep the never-fetched rows bounded.

        The rows let any replica, or this one after a restart, make a listed
        image; memory spares this process's first fetch a database read. Every
        tenth of ``unfetched_kept`` rows listed, the oldest never-fetched rows
        beyond ``unfetched_kept`` are pruned.
        """
        record_images(self.engine, [m.record for m in made])
        self.listed.put(m.record for m in made)
        with self._prune_lock:
            self._recorded_since_prune += len(made)
            prune = self._recorded_since_prune >= max(1, self.unfetched_kept // 10)
            if prune:
                self._recorded_since_prune = 0
        if prune:
            prune_unfetched(self.engine, self.unfetched_kept)

    def _generate_batch(self, generator_version: Hashable, jobs: Sequence[Job]) -> list[bytes]:
        """One forward for ``jobs``, in the batcher's thread: pixels -> PNG bytes.

        Encoding happens here, once per batch, so the event loop only routes bytes
        back; storing them (:meth:`_store_batch`) overlaps the next batch's forward.
        """
        from pigen.generator.encode import png_bytes
        from pigen.generator.sampling import sample, to_uint8

        assert isinstance(generator_version, int)
        generator = self.runtime.generator_for(generator_version)
        conditions = np.stack([condition for _, condition, _ in jobs])  # (N, D)
        pixels = to_uint8(sample(generator.model, conditions, [seed for _, _, seed in jobs]))
        return [png_bytes(image) for image in pixels]  # (R, R, 3) uint8 each

    def _store_batch(self, generator_version: Hashable, jobs: Sequence[Job],
                     pngs: Sequence[bytes]) -> None:
        """Files and provenance rows of a made batch (its callers wait for this)."""
        assert isinstance(generator_version, int)
        generator = self.runtime.generator_for(generator_version)
        # Each durable write waits on its own fsync: done side by side they share the
        # disk's flushes (32 files: ~4x faster than one after another here).
        written = self._writers.map(self.files.write, [image_id for image_id, _, _ in jobs],
                                    pngs)
        paths = dict(zip([image_id for image_id, _, _ in jobs], written, strict=True))
        # Upserted, not just updated: a row pruned between listing and this fetch
        # comes back, from the listing's record when this process still has it.
        listed = {image_id: self.listed.get(image_id) for image_id, _, _ in jobs}
        records = [listed[image_id] or ImageRecord(
            image_id, None, None, generator_version,
            ConditionVector.from_array(generator.layout, condition), seed, None)
            for image_id, condition, seed in jobs]
        record_images(self.engine, records, paths)


def _condition_array(condition: dict[str, object]) -> np.ndarray:
    return ConditionVector.from_dict(condition).to_array()
