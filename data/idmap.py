"""Two-way map between external ids (strings users know) and matrix rows."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class IdMap:
    """External id <-> row index, in row order.

    ``ids[row]`` is the external id of a row; ``row_of(id)`` the way back.
    Ids are kept as Python strings so ``"007"`` and ``"7"`` stay different.
    """

    ids: tuple[str, ...]
    _rows: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        rows = {external: row for row, external in enumerate(self.ids)}
        if len(rows) != len(self.ids):
            raise ValueError("IdMap ids must be unique")
        object.__setattr__(self, "_rows", rows)

    @classmethod
    def from_ids(cls, ids: Iterable[object]) -> IdMap:
        return cls(tuple(str(i) for i in ids))

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, external_id: object) -> bool:
        return str(external_id) in self._rows

    def row_of(self, external_id: object) -> int:
        """Row of one external id; ``KeyError`` naming the id when unknown."""
        try:
            return self._rows[str(external_id)]
        except KeyError:
            raise KeyError(f"unknown id {external_id!r}") from None

    def rows_of(self, external_ids: Sequence[object]) -> np.ndarray:
        """Rows of many ids as an int64 array (raises on the first unknown id)."""
        return np.fromiter((self.row_of(i) for i in external_ids), dtype=np.int64,
                           count=len(external_ids))

    def id_of(self, row: int) -> str:
        return self.ids[row]

    def to_array(self) -> np.ndarray:
        """The ids as a numpy unicode array (safe for ``np.savez``, no pickling)."""
        return np.asarray(self.ids, dtype=np.str_)
