"""A store's own catalog as generator training data: items, prepared images, attributes.

Reads every item with an image from the database and prepares its image through
:mod:`pigen.data.catalog.prepared_cache`, the cache ``pigen catalog extract`` also
fills: a rerun prepares only new or changed images.

Training needs each item's category, colour ("#rrggbb") and pattern. Items that
lack one are refused with a message pointing at ``pigen catalog extract`` (which
fills colour and pattern from the images), or skipped and reported when asked.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy import Engine, select

from pigen.data.catalog.prepared_cache import prepare_cached
from pigen.data.schema import Item

log = logging.getLogger(__name__)

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
    photos = prepare_cached([r.item_id for r in usable],
                            [Path(str(r.image_path)) for r in usable], resolution, cache_dir,
                            progress=progress)
    for index, error in photos.skipped:
        log.warning("item %s: %s", usable[index].item_id, error)
        skipped.append((usable[index].item_id, f"unusable image ({error.reason})"))
    images, masks, kept, prepared_now = (photos.images, photos.masks, photos.kept,
                                         photos.prepared_now)
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
