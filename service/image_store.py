"""Generated images: opaque ids, provenance rows, and the PNG cache on disk.

An image id is a hash of everything that decides the image — the shopper, the
model versions, the condition vector and the seed — so the same request always
names the same image, and the image is made once: the row is inserted with
"insert or ignore" on its unique ``content_key`` and the file is written to a
temporary name and renamed into place (two writers of one id write identical
bytes, and a reader never sees half a file). Request values never reach a file
path: paths are built from validated hex ids only.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import logging
import os
import re
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from pigen.data.conditions import ConditionVector
from pigen.data.schema import GeneratedImage, User
from pigen.service.png_check import png_intact

log = logging.getLogger(__name__)

IMAGE_ID = re.compile(r"^[0-9a-f]{32}$")


def image_id_for(user_id: str | None, versions: Mapping[str, int | None],
                 condition: ConditionVector, seed: int) -> str:
    """The opaque id (32 hex) of the image these inputs make."""
    payload = json.dumps({"user": user_id, "versions": versions, "seed": int(seed),
                          "condition": condition.to_dict()}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


def valid_image_id(image_id: str) -> bool:
    return IMAGE_ID.fullmatch(image_id) is not None


@dataclass(frozen=True)
class ImageRecord:
    """One image's provenance: enough to make it again."""

    image_id: str
    user_id: str | None  # external id; None for merchandisers' explicit conditions
    als_version: int | None
    generator_version: int
    condition: ConditionVector
    seed: int
    source: str | None  # "model" | "folded" | "prior"; None for explicit conditions


@dataclass(frozen=True)
class StoredImage:
    """A provenance row as read back for generation."""

    image_id: str
    generator_version: int
    condition: dict[str, Any]
    seed: int
    path: str | None


def record_images(engine: Engine, records: Sequence[ImageRecord],
                  paths: Mapping[str, Path] | None = None) -> None:
    """Insert provenance rows; ids already stored are left as they are.

    With ``paths`` (image id -> file written), rows are inserted with their path,
    and stored rows without one get it: a made image keeps its provenance even
    if its listing row was pruned before the first fetch.
    """
    if not records:
        return
    with engine.begin() as connection:
        known = [r.user_id for r in records if r.user_id is not None]
        user_pks: dict[str, int] = dict(connection.execute(
            select(User.external_id, User.id).where(User.external_id.in_(set(known)))).all()
        ) if known else {}
        rows = [{
            "content_key": r.image_id,
            "user_id": user_pks.get(r.user_id) if r.user_id is not None else None,
            "recsys_version_id": r.als_version,
            "generator_version_id": r.generator_version,
            "condition": r.condition.to_dict(),
            "seed": r.seed,
            "source": r.source,
            "path": str(paths[r.image_id]) if paths is not None else None,
        } for r in records]
        dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
        table = GeneratedImage.__table__
        insert = dialect.insert(table)
        if paths is None:
            statement = insert.on_conflict_do_nothing(index_elements=["content_key"])
        else:
            statement = insert.on_conflict_do_update(
                index_elements=["content_key"], set_={"path": insert.excluded.path},
                where=table.c.path.is_(None))
        connection.execute(statement, rows)


def prune_unfetched(engine: Engine, keep: int) -> int:
    """Forget listed images never fetched, all but the newest ``keep``; returns rows deleted.

    Listing is an open read that records one row per image, so without this
    anyone could grow the table without bound by listing for made-up shoppers or
    seeds. A pruned image's URL is 404 until it is listed again (same id: the id
    is a hash of its inputs); fetched images keep their rows.
    """
    unfetched = GeneratedImage.path.is_(None)
    with engine.begin() as connection:
        cutoff = connection.execute(
            select(GeneratedImage.id).where(unfetched)
            .order_by(GeneratedImage.id.desc()).offset(keep).limit(1)).scalar()
        if cutoff is None:
            return 0
        deleted = connection.execute(
            delete(GeneratedImage).where(unfetched, GeneratedImage.id <= cutoff))
        return int(deleted.rowcount or 0)


def find_image(engine: Engine, image_id: str) -> StoredImage | None:
    with engine.connect() as connection:
        row = connection.execute(
            select(GeneratedImage.generator_version_id, GeneratedImage.condition,
                   GeneratedImage.seed, GeneratedImage.path)
            .where(GeneratedImage.content_key == image_id)).one_or_none()
    if row is None or row.generator_version_id is None:
        return None
    return StoredImage(image_id, int(row.generator_version_id), dict(row.condition),
                       int(row.seed), row.path)


class ImageStoreFull(OSError):
    """The disk (or a file-size limit) refused an image: nothing partial was left behind."""


#: errno values that mean "no room": the disk or quota is full, or a file-size limit.
NO_ROOM = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
#: Temporary names of writes in progress (a killed process leaves these behind).
PARTIAL_WRITE = re.compile(r"^\.[0-9a-f]{32}\.png\.[0-9a-f]{32}\.tmp$")


class ImageFiles:
    """Canonical PNGs under ``root/<id[:2]>/<id>.png`` plus a small in-memory LRU.

    A file is trusted only when whole (:func:`png_intact`): a truncated or
    corrupted one reads as missing, so the image is made again and the good
    file replaces it. ``on_corrupt(image_id)`` hears of each one found.
    """

    def __init__(self, root: Path, memory_items: int = 1024,
                 on_corrupt: Callable[[str], None] = lambda image_id: None) -> None:
        self.root = root
        self._memory: OrderedDict[tuple[str, str, int | None], bytes] = OrderedDict()
        self._memory_items = memory_items
        self._on_corrupt = on_corrupt

    def path_of(self, image_id: str) -> Path:
        if not valid_image_id(image_id):  # the only way a request value nears a path
            raise ValueError(f"not an image id: {image_id!r}")
        return self.root / image_id[:2] / f"{image_id}.png"

    def read(self, image_id: str) -> bytes | None:
        """The stored PNG, or None when there is none or it is not whole (never served)."""
        path = self.path_of(image_id)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        if not png_intact(data):
            log.warning("image %s: the cached file is truncated or corrupt (%d bytes); "
                        "making it again", image_id, len(data))
            self._on_corrupt(image_id)
            return None
        return data

    def write(self, image_id: str, png: bytes) -> Path:
        """Write atomically and durably: temporary name, fsync, rename in the same folder.

        :class:`ImageStoreFull` when the disk has no room; either way no partial
        file stays behind.
        """
        path = self.path_of(image_id)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as handle:
                handle.write(png)
                handle.flush()
                os.fsync(handle.fileno())  # the bytes are on disk before the name is
            os.replace(tmp, path)  # atomic; a concurrent writer of this id wrote the same bytes
        except OSError as error:
            tmp.unlink(missing_ok=True)
            if error.errno in NO_ROOM:
                raise ImageStoreFull(error.errno, f"no room to store image {image_id}"
                                     ) from error
            raise
        return path

    def remove_partial_writes(self) -> int:
        """Delete temporary files left by a killed process; returns how many."""
        removed = 0
        if not self.root.is_dir():
            return 0
        for folder in self.root.iterdir():
            if not folder.is_dir():
                continue
            for entry in os.scandir(folder):
                if PARTIAL_WRITE.fullmatch(entry.name):
                    Path(entry.path).unlink(missing_ok=True)
                    removed += 1
        return removed

    def remembered(self, key: tuple[str, str, int | None]) -> bytes | None:
        data = self._memory.get(key)
        if data is not None:
            self._memory.move_to_end(key)
        return data

    def remember(self, key: tuple[str, str, int | None], data: bytes) -> None:
        self._memory[key] = data
        while len(self._memory) > self._memory_items:
            self._memory.popitem(last=False)


def pixels_of(png: bytes) -> np.ndarray:
    """(R, R, 3) uint8 of a canonical PNG."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as picture:
        return np.asarray(picture.convert("RGB"))


def encode_variant(png: bytes, fmt: str, size: int | None) -> bytes:
    """The canonical PNG as ``fmt`` ("png" | "webp"), upscaled to ``size`` when given."""
    from pigen.generator.encode import png_bytes, webp_bytes

    if fmt == "png" and size is None:
        return png
    pixels = pixels_of(png)
    return png_bytes(pixels, size) if fmt == "png" else webp_bytes(pixels, size)
