"""Prepared catalog photos, cached so each photo is prepared once.

``pigen catalog extract`` and ``pigen generator train --catalog`` both need every
item's photo prepared at the same resolution; preparing a large catalog takes
minutes, so both read one ``.npz`` per resolution, keyed by item id and the image
file's path, size and modification time: a rerun prepares only new or changed photos.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pigen.data.catalog.prepare import UnusableImage

log = logging.getLogger(__name__)

CACHE_FORMAT = "pigen-catalog-images/1"


@dataclass(frozen=True)
class PreparedPhotos:
    """The usable photos, row-aligned with ``kept`` (indices into the items asked for)."""

    images: np.ndarray  # (N, R, R, 3) float32 in [0, 1]
    masks: np.ndarray  # (N, R, R) bool, True on the product
    kept: list[int]
    skipped: list[tuple[int, UnusableImage]]  # (index into the items, why)
    prepared_now: int  # photos prepared in this call (the rest came from the cache)


def prepare_cached(item_ids: Sequence[str], paths: Sequence[Path], resolution: int,
                   cache_dir: Path, *, progress: bool = True) -> PreparedPhotos:
    """Each item's photo prepared at ``resolution``, from the cache when its file is unchanged."""
    from tqdm.auto import tqdm

    from pigen.data.catalog.prepare import prepare_image

    cache = cache_dir / f"catalog-images-{resolution}.npz"
    cached = _read(cache, resolution)
    r = resolution
    images: list[np.ndarray] = []
    masks: list[np.ndarray] = []
    keys: list[str] = []  # file key of each kept photo
    kept: list[int] = []
    skipped: list[tuple[int, UnusableImage]] = []
    prepared_now = 0
    for index, (item_id, path) in enumerate(tqdm(list(zip(item_ids, paths, strict=True)),
                                                 desc="preparing catalog images",
                                                 unit="image", disable=not progress)):
        key = _file_key(path)
        hit = cached.get(item_id)
        if hit is not None and hit[0] == key:
            image, mask = hit[1], hit[2]
        else:
            try:
                prepared = prepare_image(path, r)
            except UnusableImage as error:
                skipped.append((index, error))
                continue
            image, mask = prepared.rgb.astype(np.float32), prepared.mask.astype(bool)
            prepared_now += 1
        images.append(image)
        masks.append(mask)
        keys.append(key)
        kept.append(index)
    stacked_images = (np.stack(images) if images
                      else np.zeros((0, r, r, 3), np.float32))  # (N, R, R, 3)
    stacked_masks = np.stack(masks) if masks else np.zeros((0, r, r), bool)  # (N, R, R)
    fresh = {str(item_ids[k]): (key, images[n], masks[n])
             for n, (k, key) in enumerate(zip(kept, keys, strict=True))}
    dropped = {str(item_ids[index]) for index, _ in skipped} & set(cached)
    if prepared_now or dropped:
        # Items not asked for this time stay: extraction asks for every photo,
        # training only for complete items, and neither should undo the other.
        _write(cache, {**{i: e for i, e in cached.items() if i not in dropped}, **fresh}, r)
    return PreparedPhotos(stacked_images, stacked_masks, kept, skipped, prepared_now)


def _read(path: Path, resolution: int) -> dict[str, tuple[str, np.ndarray, np.ndarray]]:
    if not path.is_file():
        return {}
    try:
        with np.load(path, allow_pickle=False) as data:
            if str(data["format"]) != CACHE_FORMAT:
                return {}
            if data["images"].shape[1:3] != (resolution, resolution):
                return {}
            images, masks = data["images"], data["masks"]  # each read once
            return {str(i): (str(k), images[n], masks[n])
                    for n, (i, k) in enumerate(zip(data["item_ids"], data["keys"],
                                                   strict=True))}
    except (OSError, ValueError, KeyError) as error:
        log.warning("ignoring unreadable image cache %s (%s)", path, error)
        return {}


def _write(path: Path, entries: dict[str, tuple[str, np.ndarray, np.ndarray]],
           resolution: int) -> None:
    """Atomically replace the cache with ``entries`` (item id -> (file key, image, mask))."""
    r = resolution
    ids = list(entries)
    images = (np.stack([entries[i][1] for i in ids]) if ids
              else np.zeros((0, r, r, 3), np.float32))
    masks = np.stack([entries[i][2] for i in ids]) if ids else np.zeros((0, r, r), bool)
    path.parent.mkdir(parents=True, exist_ok=True)
    # A name of this process's own: two runs preparing the same catalog at once (two
    # trainings side by side) each write whole and the last replace wins, never a
    # half-written file nor one run's temporary file moved away under the other.
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp.npz")
    try:
        np.savez(tmp, format=np.array(CACHE_FORMAT), item_ids=np.array(ids, dtype=str),
                 keys=np.array([entries[i][0] for i in ids], dtype=str), images=images,
                 masks=masks)
        os.replace(tmp, path)
    finally:  # a write cut short leaves no file of its own behind
        tmp.unlink(missing_ok=True)


def _file_key(path: Path) -> str:
    """The image file's path, size and mtime: a changed file is prepared again."""
    try:
        stat = os.stat(path)
    except OSError:
        return f"{path}|missing"
    return f"{path}|{stat.st_size}|{stat.st_mtime_ns}"
