"""A store's own catalog as generator training data: items, prepared images, attributes.

Reads every item with an image from the database, prepares its image with
:func:`pigen.data.catalog.prepare.prepare_image` and keeps the arrays in one
``.npz`` cache per resolution, keyed by item id and the image file's path, size
and modification time: a rerun prepares only new or changed images.

Training needs each item's category, colour ("#rrggbb") and pattern. Items that
lack one are refused with a message pointing at ``pigen catalog extract`` (which
fills colour and pattern from the images), or skipped and reported when asked.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy import Engine, select

from pigen.data.schema import Item

log = logging.getLogger(__name__)

CACHE_FORMAT = "pigen-catalog-images/1"


class IncompleteCatalog(ValueError):
    """Items lack a category, colour or pattern the generator is conditioned on."""


@dataclass(frozen=True)
class CatalogTrainingSet:
    """Row-aligned items of a catalog, ready to train on."""

    item_ids: tuple[str, ...]  # (N,) external ids
    categories: tuple[str, ...]  # (N,) category names
    colours: np.ndarray  # (N, 3) float32 body RGB in [0, 1]
    patterns: tuple[str, ...]  # (N,) pattern names
    images: np.ndarray  # (N, R, R, 3) float32 in [0, 1], framed by prepare_image
    masks: np.ndarray  # (N, R, R) bool, True on the product
    # (item id, reason) of every item left out: no image, an unusable one, or
    # (when skipping was asked for) a missing attribute.
    skipped: list[tuple[str, str]] = field(default_factory=list)
    prepared_now: int = 0  # images prepared by this call (the rest came from the cache)

    def __len__(self) -> int:
        return len(self.item_ids)

    @property
    def resolution(self) -> int:
        return int(self.images.shape[1])

    def fingerprint(self) -> str:
        """A short hash of the items, attributes and pixels: a resumed run checks it."""
        import hashlib

        digest = hashlib.sha256()
        for name in ("item_ids", "categories", "patterns"):
            digest.update("\x1f".join(getattr(self, name)).encode())
        for array in (self.colours, self.images, self.masks):
            digest.update(np.ascontiguousarray(array).tobytes())
        return digest.hexdigest()[:16]


@dataclass(frozen=True)
class _Row:
    item_id: str
    category: str | None
    colour: str | None
    pattern: str | None
    image_path: str | None


def load_catalog_training_set(engine: Engine, resolution: int, cache_dir: Path, *,
                              skip_incomplete: bool = False,
                              progress: bool = True) -> CatalogTrainingSet:
    """The catalog's items with images, prepared at ``resolution`` (cached).

    Raises
    ------
    IncompleteCatalog
        Items lack a category, colour or pattern and ``skip_incomplete`` is false;
        or no item is left to train on.
    """
    rows = _read_items(engine)
    skipped: list[tuple[str, str]] = []
    usable: list[_Row] = []
    incomplete: list[str] = []
    for row in rows:
        if row.image_path is None:
            skipped.append((row.item_id, "no image"))
            continue
        lacking = [name for name in ("category", "colour", "pattern") if not getattr(row, name)]
        if lacking:
            incomplete.append(row.item_id)
            skipped.append((row.item_id, "no " + " or ".join(lacking)))
            continue
        usable.append(row)
    if incomplete and not skip_incomplete:
        raise IncompleteCatalog(
            f"{len(incomplete)} of {len(rows)} items with images lack a colour, pattern or "
            f"category (e.g. {', '.join(incomplete[:5])}). Run `pigen catalog extract` first: "
            "it fills colour and pattern from the images. Or pass --skip-incomplete to train "
            "on the complete items only.")
    cache = _ImageCache(cache_dir / f"catalog-images-{resolution}.npz", resolution)
    images, masks, kept, failures, prepared_now = cache.prepare(usable, progress)
    skipped.extend(failures)
    if not kept:
        raise IncompleteCatalog(
            f"no item can be trained on: {len(rows)} items, {len(skipped)} left out "
            f"({_reasons(skipped)})")
    if skipped:
        log.warning("catalog training leaves out %d items: %s", len(skipped), _reasons(skipped))
    rows_kept = [usable[k] for k in kept]
    return CatalogTrainingSet(
        item_ids=tuple(r.item_id for r in rows_kept),
        categories=tuple(str(r.category) for r in rows_kept),
        colours=np.stack([_hex_rgb(str(r.colour), r.item_id) for r in rows_kept]),
        patterns=tuple(str(r.pattern) for r in rows_kept),
        images=images, masks=masks, skipped=skipped, prepared_now=prepared_now)


def _reasons(skipped: Sequence[tuple[str, str]]) -> str:
    counts: dict[str, int] = {}
    for _, reason in skipped:
        counts[reason] = counts.get(reason, 0) + 1
    return ", ".join(f"{n} {reason}" for reason, n in sorted(counts.items()))


def _read_items(engine: Engine) -> list[_Row]:
    with engine.connect() as connection:
        rows = connection.execute(select(
            Item.external_id, Item.category, Item.colour, Item.pattern, Item.image_path
        ).order_by(Item.id)).all()
    return [_Row(str(r[0]), r[1] or None, r[2] or None, r[3] or None, r[4] or None)
            for r in rows]


def _hex_rgb(text: str, item_id: str) -> np.ndarray:
    value = text.strip().removeprefix("#")
    if len(value) != 6:
        raise IncompleteCatalog(f"item {item_id!r}: colour {text!r} is not #rrggbb")
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raise IncompleteCatalog(f"item {item_id!r}: colour {text!r} is not #rrggbb") from None
    return np.frombuffer(raw, dtype=np.uint8).astype(np.float32) / 255.0


class _ImageCache:
    """Prepared images by item id, valid while the file's (path, size, mtime) stays."""

    def __init__(self, path: Path, resolution: int) -> None:
        self.path, self.resolution = path, resolution

    def prepare(self, rows: Sequence[_Row], progress: bool
                ) -> tuple[np.ndarray, np.ndarray, list[int], list[tuple[str, str]], int]:
        """(images, masks, kept row indices, (item id, reason) failures, prepared count)."""
        from tqdm.auto import tqdm

        from pigen.data.catalog.prepare import UnusableImage, prepare_image

        cached = self._read()
        r = self.resolution
        images: list[np.ndarray] = []
        masks: list[np.ndarray] = []
        keys: list[str] = []
        kept: list[int] = []
        failures: list[tuple[str, str]] = []
        prepared_now = 0
        for index, row in enumerate(tqdm(rows, desc="preparing catalog images", unit="image",
                                         disable=not progress)):
            key = _file_key(row)
            hit = cached.get(row.item_id)
            if hit is not None and hit[0] == key:
                image, mask = hit[1], hit[2]
            else:
                try:
                    prepared = prepare_image(Path(str(row.image_path)), r)
                except UnusableImage as error:
                    failures.append((row.item_id, f"unusable image ({error.reason})"))
                    log.warning("item %s: %s", row.item_id, error)
                    continue
                image, mask = prepared.rgb.astype(np.float32), prepared.mask.astype(bool)
                prepared_now += 1
            images.append(image)
            masks.append(mask)
            keys.append(key)
            kept.append(index)
        ids = [rows[k].item_id for k in kept]
        stacked_images = (np.stack(images) if images
                          else np.zeros((0, r, r, 3), np.float32))  # (N, R, R, 3)
        stacked_masks = np.stack(masks) if masks else np.zeros((0, r, r), bool)  # (N, R, R)
        if prepared_now or len(ids) != len(cached):
            self._write(ids, keys, stacked_images, stacked_masks)
        return stacked_images, stacked_masks, kept, failures, prepared_now

    def _read(self) -> dict[str, tuple[str, np.ndarray, np.ndarray]]:
        if not self.path.is_file():
            return {}
        try:
            with np.load(self.path, allow_pickle=False) as data:
                if str(data["format"]) != CACHE_FORMAT:
                    return {}
                if data["images"].shape[1:3] != (self.resolution, self.resolution):
                    return {}
                images, masks = data["images"], data["masks"]  # each read once
                return {str(i): (str(k), images[n], masks[n])
                        for n, (i, k) in enumerate(zip(data["item_ids"], data["keys"],
                                                       strict=True))}
        except (OSError, ValueError, KeyError) as error:
            log.warning("ignoring unreadable image cache %s (%s)", self.path, error)
            return {}

    def _write(self, ids: list[str], keys: list[str], images: np.ndarray,
               masks: np.ndarray) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp.npz")
        np.savez(tmp, format=np.array(CACHE_FORMAT), item_ids=np.array(ids, dtype=str),
                 keys=np.array(keys, dtype=str), images=images, masks=masks)
        os.replace(tmp, self.path)


def _file_key(row: _Row) -> str:
    """The image file's path, size and mtime: a changed file is prepared again."""
    path = str(row.image_path)
    try:
        stat = os.stat(path)
    except OSError:
        return f"{path}|missing"
    return f"{path}|{stat.st_size}|{stat.st_mtime_ns}"
