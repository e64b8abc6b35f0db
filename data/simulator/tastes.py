"""Hidden shopper tastes: the ground truth later stages are measured against.

Tastes are held as dense arrays (shoppers x vocabulary) so the storefront can
score every shopper against every item in a few vectorised gathers; ``Taste``
is the readable one-shopper view of the same numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pigen.data.conditions import distinct_names
from pigen.data.idmap import IdMap
from pigen.data.simulator.config import SimulatorConfig

# Catalog columns the simulator reads, in Vocab field order.
ATTRIBUTE_COLUMNS = ("category", "colour_name", "pattern")


@dataclass(frozen=True)
class Vocab:
    """The attribute names taste is expressed over; array columns follow this order."""

    categories: tuple[str, ...]
    colours: tuple[str, ...]
    patterns: tuple[str, ...]

    def __post_init__(self) -> None:
        for part in ("categories", "colours", "patterns"):
            names = distinct_names(getattr(self, part), f"vocabulary {part}")
            object.__setattr__(self, part, names)

    @classmethod
    def from_items(cls, items: pd.DataFrame) -> Vocab:
        """Sorted distinct values of the catalog's attribute columns, so any catalog works."""
        missing = [c for c in ATTRIBUTE_COLUMNS if c not in items.columns]
        if missing:
            raise ValueError(f"items frame lacks columns {missing}")
        return cls(*(tuple(sorted(items[c].astype(str).unique())) for c in ATTRIBUTE_COLUMNS))

    def encode(self, items: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-item (category, colour, pattern) codes as int64 arrays of shape (I,).

        Raises ``ValueError`` naming the values the vocabulary does not know.
        """
        codes = []
        for column, names in zip(ATTRIBUTE_COLUMNS, self.as_tuple(), strict=True):
            values = items[column].astype(str)
            code = pd.Index(names).get_indexer(values).astype(np.int64)
            if (code < 0).any():
                unknown = sorted(set(values[code < 0]))[:5]
                raise ValueError(f"items.{column} has values outside the vocabulary: {unknown}")
            codes.append(code)
        return codes[0], codes[1], codes[2]

    def as_tuple(self) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
        return self.categories, self.colours, self.patterns

    def to_dict(self) -> dict[str, list[str]]:
        return {
            "categories": list(self.categories),
            "colours": list(self.colours),
            "patterns": list(self.patterns),
        }


@dataclass(frozen=True)
class Taste:
    """One shopper's hidden taste, by name."""

    shopper_id: str
    category: Mapping[str, float]  # distribution over all categories
    colours: Mapping[str, float]  # favourite colours only, heaviest first; sums to 1
    pattern: Mapping[str, float]  # distribution over all patterns

    @property
    def top_category(self) -> str:
        return max(self.category, key=self.category.__getitem__)

    @property
    def top_colour(self) -> str:
        return next(iter(self.colours))

    @property
    def top_pattern(self) -> str:
        return max(self.pattern, key=self.pattern.__getitem__)


def _frozen_rows(values: np.ndarray, width: int, n: int, what: str) -> np.ndarray:
    array = np.array(values, dtype=np.float64)  # a private copy, then read-only
    if array.shape != (n, width):
        raise ValueError(f"{what} must have shape {(n, width)}, got {array.shape}")
    if (array < 0).any() or not np.allclose(array.sum(axis=1), 1.0, atol=1e-6):
        raise ValueError(f"{what} rows must be non-negative and sum to 1")
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False)
class Tastes:
    """Every shopper's hidden taste as arrays; row r belongs to ``shoppers.ids[r]``."""

    vocab: Vocab
    shoppers: IdMap
    category: np.ndarray  # (S, C) category distribution per shopper
    colour: np.ndarray  # (S, K) weight on each favourite colour, 0 elsewhere
    pattern: np.ndarray  # (S, P) pattern distribution per shopper
    _n: int = field(init=False, repr=False)

    def __post_init__(self) -> None:
        n = len(self.shoppers)
        object.__setattr__(self, "_n", n)
        v = self.vocab
        object.__setattr__(
            self, "category", _frozen_rows(self.category, len(v.categories), n, "category")
        )
        object.__setattr__(self, "colour", _frozen_rows(self.colour, len(v.colours), n, "colour"))
        object.__setattr__(
            self, "pattern", _frozen_rows(self.pattern, len(v.patterns), n, "pattern")
        )

    def __len__(self) -> int:
        return self._n

    @property
    def favourite_colours(self) -> np.ndarray:
        """(S, K) bool: which colours each shopper favours."""
        return self.colour > 0

    def top_category(self) -> np.ndarray:
        """(S,) index of each shopper's most liked category."""
        return np.argmax(self.category, axis=1)

    def top_colour(self) -> np.ndarray:
        """(S,) index of each shopper's heaviest favourite colour."""
        return np.argmax(self.colour, axis=1)

    def taste(self, shopper_id: str) -> Taste:
        """The named view of one shopper's row."""
        row = self.shoppers.row_of(shopper_id)
        v = self.vocab
        order = np.argsort(-self.colour[row], kind="stable")
        colours = {
            v.colours[k]: float(self.colour[row, k]) for k in order if self.colour[row, k] > 0
        }
        return Taste(
            shopper_id=self.shoppers.id_of(row),
            category=dict(zip(v.categories, self.category[row].tolist(), strict=True)),
            colours=colours,
            pattern=dict(zip(v.patterns, self.pattern[row].tolist(), strict=True)),
        )


def shopper_ids(n: int) -> IdMap:
    """External ids "shopper-00001", ... (1-based, zero-padded to at least 5 digits)."""
    width = max(5, len(str(n)))
    return IdMap(tuple(f"shopper-{i:0{width}d}" for i in range(1, n + 1)))


def draw_tastes(
    shoppers: IdMap, vocab: Vocab, config: SimulatorConfig, rng: np.random.Generator
) -> Tastes:
    """Draw every shopper's hidden taste from the config's priors (see the package docstring)."""
    n = len(shoppers)
    n_colours = len(vocab.colours)
    # 1. Category and pattern: symmetric Dirichlet; small concentration = peaked taste.
    category = rng.dirichlet(
        np.full(len(vocab.categories), config.category_concentration), size=n
    )  # (S, C)
    pattern = rng.dirichlet(
        np.full(len(vocab.patterns), config.pattern_concentration), size=n
    )  # (S, P)
    # 2. Favourite colours: 1..3 distinct colours per shopper, picked uniformly by
    #    ranking random keys per row, then Dirichlet weights among those picked.
    low = min(config.min_favourite_colours, n_colours)
    high = min(config.max_favourite_colours, n_colours)
    n_favourite = rng.integers(low, high + 1, size=n)  # (S,)
    rank = np.argsort(np.argsort(rng.random((n, n_colours)), axis=1), axis=1)  # (S, K)
    favourite = rank < n_favourite[:, None]
    weight = rng.gamma(config.colour_concentration, size=(n, n_colours)) * favourite
    # Gamma draws can underflow to 0 for tiny concentrations; keep every favourite live.
    weight = np.where(favourite, np.maximum(weight, 1e-12), 0.0)
    colour = weight / weight.sum(axis=1, keepdims=True)
    # Re-normalise: Dirichlet draws can be off from 1 by an ulp or so.
    category /= category.sum(axis=1, keepdims=True)
    pattern /= pattern.sum(axis=1, keepdims=True)
    return Tastes(vocab=vocab, shoppers=shoppers, category=category, colour=colour, pattern=pattern)
