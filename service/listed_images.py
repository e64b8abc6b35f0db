"""Listed images remembered in memory, packed small and bounded by bytes.

A listing records one provenance row per image in the database; this process
also remembers what makes each one (generator version, condition, seed, and the
rest of its row), so its first fetch needs no database read. Remembering a
dataclass with its numpy arrays cost ~830 bytes an image, and 50,000 of them
were most of a soak's RSS growth; here each is one ``bytes`` key (the 16 bytes
of its hex id) and one packed ``bytes`` value, and the cache holds at most
``max_bytes`` by its own count, oldest forgotten first.
"""

from __future__ import annotations

import struct
import sys
import threading
from collections import OrderedDict
from collections.abc import Iterable

import numpy as np

from pigen.data.conditions import ConditionLayout, ConditionVector
from pigen.service.image_store import ImageRecord

#: generator version, ALS version (-1: none), seed, source code, layout index, user id bytes
_HEAD = struct.Struct("<qqQBBH")
#: The user id length that stands for no user (explicit conditions); ids are far shorter.
_NO_USER = 0xFFFF
#: Known sources by code (0: none); anything else is stored after the user id.
_SOURCES: tuple[str | None, ...] = (None, "model", "folded", "prior")
_OTHER_SOURCE = 255
#: Bytes an entry costs beyond its key's and value's payloads: two bytes objects'
#: headers and the ordered dict's slot and link node (measured on CPython 3.11 by
#: ``tests/service/test_listed_images.py``, which checks the count stays honest).
ENTRY_OVERHEAD = 2 * sys.getsizeof(b"") + 120


class ListedImages:
    """Image id -> :class:`ImageRecord`, at most ``max_bytes``; safe across threads."""

    def __init__(self, max_bytes: int) -> None:
        if max_bytes < 0:
            raise ValueError(f"max_bytes must be >= 0, got {max_bytes}")
        self.max_bytes = max_bytes
        self._entries: OrderedDict[bytes, bytes] = OrderedDict()
        self._bytes = 0
        self._layouts: list[ConditionLayout] = []  # few: one per generator layout
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, image_id: str) -> bool:
        with self._lock:
            return bytes.fromhex(image_id) in self._entries

    @property
    def size_bytes(self) -> int:
        """What the entries cost by this cache's count (the bound applies to this)."""
        return self._bytes

    def put(self, records: Iterable[ImageRecord]) -> None:
        """Remember ``records`` (newest last); forget the oldest beyond ``max_bytes``."""
        with self._lock:
            for record in records:
                key = bytes.fromhex(record.image_id)
                value = self._pack(record)
                old = self._entries.pop(key, None)
                if old is not None:
                    self._bytes -= _cost(key, old)
                self._entries[key] = value
                self._bytes += _cost(key, value)
            while self._bytes > self.max_bytes and self._entries:
                key, value = self._entries.popitem(last=False)
                self._bytes -= _cost(key, value)

    def get(self, image_id: str) -> ImageRecord | None:
        with self._lock:
            value = self._entries.get(bytes.fromhex(image_id))
            layouts = tuple(self._layouts)
        return None if value is None else _unpack(image_id, value, layouts)

    def _pack(self, record: ImageRecord) -> bytes:
        layout = record.condition.layout
        try:
            layout_index = self._layouts.index(layout)
        except ValueError:
            if len(self._layouts) == 255:  # one byte; never near, but not silently wrong
                raise ValueError("over 255 condition layouts in one cache") from None
            self._layouts.append(layout)
            layout_index = len(self._layouts) - 1
        user = b"" if record.user_id is None else record.user_id.encode()
        if len(user) >= _NO_USER:
            raise ValueError(f"user id of {len(user)} bytes: too long to remember")
        source = _SOURCES.index(record.source) if record.source in _SOURCES else _OTHER_SOURCE
        tail = (record.source or "").encode() if source == _OTHER_SOURCE else b""
        als = -1 if record.als_version is None else record.als_version
        condition = record.condition.to_array().astype("<f4", copy=False).tobytes()
        return (_HEAD.pack(record.generator_version, als, record.seed, source, layout_index,
                           _NO_USER if record.user_id is None else len(user))
                + user + condition + tail)


def _cost(key: bytes, value: bytes) -> int:
    return len(key) + len(value) + ENTRY_OVERHEAD


def _unpack(image_id: str, value: bytes, layouts: tuple[ConditionLayout, ...]
            ) -> ImageRecord:
    generator, als, seed, source, layout_index, user_len = _HEAD.unpack_from(value)
    layout = layouts[layout_index]
    start = _HEAD.size + (0 if user_len == _NO_USER else user_len)
    end = start + 4 * layout.size
    user = None if user_len == _NO_USER else value[_HEAD.size:start].decode()
    array = np.frombuffer(value[start:end], dtype="<f4").astype(np.float32)
    return ImageRecord(
        image_id, user, None if als < 0 else als, generator,
        ConditionVector.from_array(layout, array), seed,
        value[end:].decode() if source == _OTHER_SOURCE else _SOURCES[source])
