"""Catalog attributes aligned with a model's items: what the taste bridge aggregates over.

Items whose attribute is missing, or not in the layout, get code -1 for that
attribute only; colours are parsed from "#rrggbb" and named by the nearest
palette colour when the catalog does not name them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pigen.data.catalog.palette import COLOUR_NAMES, PALETTE_RGB
from pigen.data.conditions import ConditionLayout
from pigen.data.idmap import IdMap

# -- item attributes ----------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ItemAttributes:
    """Per-item condition attributes, row-aligned with a model's item :class:`IdMap`.

    ``-1`` (indexes) and NaN (colours) mark an unknown attribute.
    """

    layout: ConditionLayout
    items: IdMap
    category: np.ndarray  # (I,) int64 position in layout.categories, -1 unknown
    colour: np.ndarray  # (I, 3) float64 body RGB in [0, 1], NaN rows unknown
    colour_name: np.ndarray  # (I,) int64 position in COLOUR_NAMES, -1 unknown
    pattern: np.ndarray  # (I,) int64 position in layout.patterns, -1 unknown

    def __post_init__(self) -> None:
        n = len(self.items)
        for name, bound in (
            ("category", self.layout.n_categories),
            ("colour_name", len(COLOUR_NAMES)),
            ("pattern", self.layout.n_patterns),
        ):
            codes = np.array(getattr(self, name), dtype=np.int64)
            if codes.shape != (n,):
                raise ValueError(f"{name} must have shape ({n},), got {codes.shape}")
            if ((codes < -1) | (codes >= bound)).any():
                raise ValueError(f"{name} codes must lie in [-1, {bound})")
            codes.setflags(write=False)
            object.__setattr__(self, name, codes)
        colour = np.array(self.colour, dtype=np.float64)
        if colour.shape != (n, 3):
            raise ValueError(f"colour must have shape ({n}, 3), got {colour.shape}")
        known = ~np.isnan(colour).any(axis=1)
        if ((colour[known] < 0) | (colour[known] > 1)).any():
            raise ValueError("colour must be RGB in [0, 1] (NaN for unknown)")
        if not np.array_equal(known, self.colour_name >= 0):
            raise ValueError("colour and colour_name must be unknown for the same items")
        colour[~known] = np.nan
        colour.setflags(write=False)
        object.__setattr__(self, "colour", colour)

    def __len__(self) -> int:
        return len(self.items)

    @classmethod
    def from_frame(
        cls, items_frame: pd.DataFrame, item_ids: IdMap, layout: ConditionLayout
    ) -> ItemAttributes:
        """Read ``category``, ``colour`` ("#rrggbb") and ``pattern`` columns of a catalog.

        Rows are matched to ``item_ids`` by the ``item_id`` column; model items the
        frame lacks, empty cells and names the layout does not know become unknown.
        ``colour_name`` is taken from the frame when it holds palette names, else
        the nearest palette name of the colour. A malformed colour is an error.
        """
        missing = [
            c for c in ("item_id", "category", "colour", "pattern") if c not in items_frame.columns
        ]
        if missing:
            raise ValueError(f"items frame lacks columns {missing}")
        frame = items_frame.assign(item_id=items_frame["item_id"].astype(str))
        if frame["item_id"].duplicated().any():
            raise ValueError("items frame has duplicate item_id values")
        frame = frame.set_index("item_id").reindex(list(item_ids.ids))  # (I, ...) model order
        rgb = _parse_hex(frame["colour"])  # (I, 3), NaN where missing
        known = ~np.isnan(rgb).any(axis=1)
        names = (
            _codes(frame["colour_name"], COLOUR_NAMES)
            if "colour_name" in frame.columns
            else np.full(len(frame), -1, dtype=np.int64)
        )
        nearest = _nearest_palette(np.nan_to_num(rgb))  # (I,)
        colour_name = np.where(known, np.where(names >= 0, names, nearest), -1)
        return cls(
            layout=layout,
            items=item_ids,
            category=_codes(frame["category"], layout.categories),
            colour=rgb,
            colour_name=colour_name,
            pattern=_codes(frame["pattern"], layout.patterns),
        )


def _codes(column: pd.Series, names: tuple[str, ...]) -> np.ndarray:
    """(I,) positions of a column's values in ``names``; -1 for missing or unknown values."""
    values = column.astype("string").fillna("")  # keep NaN from becoming the name "nan"
    return pd.Index(names).get_indexer(values.to_numpy(dtype=object)).astype(np.int64)


def _parse_hex(column: pd.Series) -> np.ndarray:
    """(I, 3) RGB in [0, 1] from "#rrggbb" strings in one pass; NaN rows where missing."""
    text = column.astype("string").str.strip().str.removeprefix("#").fillna("")
    present = (text != "").to_numpy()
    valid = text.str.fullmatch(r"[0-9a-fA-F]{6}").fillna(False).to_numpy(dtype=bool)
    bad = present & ~valid
    if bad.any():
        raise ValueError(f"colours are not #rrggbb: {sorted(set(column[bad].astype(str)))[:5]}")
    rgb = np.full((len(text), 3), np.nan)
    if valid.any():
        raw = bytes.fromhex("".join(text[valid].tolist()))
        rgb[valid] = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3) / 255.0
    return rgb


def _nearest_palette(rgb: np.ndarray) -> np.ndarray:
    """(N,) index of the nearest palette colour to each of (N, 3) RGB."""
    distance = ((rgb[:, None, :] - PALETTE_RGB[None, :, :]) ** 2).sum(axis=2)  # (N, K)
    return np.argmin(distance, axis=1).astype(np.int64)
