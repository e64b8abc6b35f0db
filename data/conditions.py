"""The condition vector: the one fixed layout recsys writes and the generator reads.

``recsys`` and ``generator`` never import each other; both import this module, so
training (one-hot conditions from catalog attributes) and serving (conditions
sampled from a user's taste) cannot drift apart. Layout, in order::

    [ category (C) | colour (3) | pattern (P) ]

category and pattern are probability distributions (one-hot in training), colour
is the body colour as RGB in [0, 1]. torch is imported only inside the tensor
methods, so ``pigen.data`` stays torch-free at import.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from pigen.data.catalog.render import PATTERNS

if TYPE_CHECKING:
    import torch

#: Bumped whenever the meaning or order of the parts changes; stored with every record.
LAYOUT_VERSION = 1
#: Slack on "sums to 1": float32 round trips and softmax sums land within ~1e-6.
PROBABILITY_TOLERANCE = 1e-4

RGBLike = Sequence[float] | np.ndarray


def distinct_names(values: Iterable[object], what: str) -> tuple[str, ...]:
    """``values`` as a tuple of strings; ``ValueError`` naming ``what`` if empty or repeated."""
    names = tuple(str(v) for v in values)
    if not names:
        raise ValueError(f"{what} is empty")
    if len(set(names)) != len(names):
        raise ValueError(f"{what} has duplicates: {names}")
    return names


@dataclass(frozen=True)
class ConditionLayout:
    """Which categories and patterns the vector spans, in vector order.

    Two layouts are equal when their names and order are; a generator refuses
    conditions from a layout it was not trained on.
    """

    categories: tuple[str, ...]
    patterns: tuple[str, ...]
    COLOUR_SIZE: ClassVar[int] = 3  # RGB

    def __post_init__(self) -> None:
        for part in ("categories", "patterns"):
            names = distinct_names(getattr(self, part), f"ConditionLayout.{part}")
            object.__setattr__(self, part, names)

    @classmethod
    def builtin(cls) -> ConditionLayout:
        """The built-in catalog's layout: Fashion-MNIST classes, then the render patterns."""
        # Imported here: the catalog builder pulls in pandas and PIL, which the
        # generator's hot path (and ``import pigen.data.conditions``) should not pay for.
        from pigen.data.catalog.builtin import CATEGORIES

        return cls(CATEGORIES, PATTERNS)

    @property
    def n_categories(self) -> int:
        return len(self.categories)

    @property
    def n_patterns(self) -> int:
        return len(self.patterns)

    @property
    def size(self) -> int:
        """D = C + 3 + P, the length of one vector."""
        return self.n_categories + self.COLOUR_SIZE + self.n_patterns

    @property
    def category_slice(self) -> slice:
        return slice(0, self.n_categories)

    @property
    def colour_slice(self) -> slice:
        start = self.n_categories
        return slice(start, start + self.COLOUR_SIZE)

    @property
    def pattern_slice(self) -> slice:
        start = self.n_categories + self.COLOUR_SIZE
        return slice(start, start + self.n_patterns)

    @property
    def plain_pattern_index(self) -> int:
        """Where "solid" sits (the pattern whose tint is the colour alone); 0 if absent."""
        return self.patterns.index("solid") if "solid" in self.patterns else 0

    def category_index(self, category: str | int) -> int:
        """Position of a category given by name or index; ``ValueError`` if unknown."""
        return _index(category, self.categories, "category")

    def pattern_index(self, pattern: str | int) -> int:
        """Position of a pattern given by name or index; ``ValueError`` if unknown."""
        return _index(pattern, self.patterns, "pattern")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with the layout version, for model files and image records."""
        return {
            "version": LAYOUT_VERSION,
            "categories": list(self.categories),
            "patterns": list(self.patterns),
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> ConditionLayout:
        """Inverse of :meth:`to_dict`; unknown keys or another version are errors."""
        unknown = sorted(set(values) - {"version", "categories", "patterns"})
        if unknown:
            raise ValueError(f"unknown ConditionLayout keys: {unknown}")
        version = values.get("version", LAYOUT_VERSION)
        if version != LAYOUT_VERSION:
            raise ValueError(
                f"condition layout version {version!r} is not supported (this is {LAYOUT_VERSION})"
            )
        missing = [k for k in ("categories", "patterns") if k not in values]
        if missing:
            raise ValueError(f"ConditionLayout dict lacks {missing}")
        return cls(tuple(values["categories"]), tuple(values["patterns"]))


def _index(value: str | int, names: tuple[str, ...], what: str) -> int:
    if isinstance(value, bool):
        raise TypeError(f"{what} must be a name or an index, got {value!r}")
    if isinstance(value, int | np.integer):
        if not 0 <= int(value) < len(names):
            raise ValueError(f"{what} index {value} outside [0, {len(names)})")
        return int(value)
    try:
        return names.index(str(value))
    except ValueError:
        raise ValueError(f"unknown {what} {value!r}; expected one of {names}") from None


def _part(values: object, size: int, what: str) -> np.ndarray:
    array = np.array(values, dtype=np.float32)  # a private copy, then read-only
    if array.shape != (size,):
        raise ValueError(f"{what} must have shape ({size},), got {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{what} holds NaN or infinite values")
    array.setflags(write=False)
    return array


def _check_distribution(values: np.ndarray, what: str) -> None:
    if (values < 0).any():
        raise ValueError(f"{what} must be non-negative, got {values.tolist()}")
    total = float(values.sum(dtype=np.float64))
    if abs(total - 1.0) > PROBABILITY_TOLERANCE:
        raise ValueError(f"{what} must sum to 1 (within {PROBABILITY_TOLERANCE}), got {total:.6g}")


@dataclass(frozen=True, eq=False)
class ConditionVector:
    """One condition: what one image should be. Validated on construction, read-only."""

    layout: ConditionLayout
    category: np.ndarray  # (C,) float32, a distribution
    colour: np.ndarray  # (3,) float32, RGB in [0, 1]
    pattern: np.ndarray  # (P,) float32, a distribution

    def __post_init__(self) -> None:
        layout = self.layout
        category = _part(self.category, layout.n_categories, "category")
        colour = _part(self.colour, layout.COLOUR_SIZE, "colour")
        pattern = _part(self.pattern, layout.n_patterns, "pattern")
        _check_distribution(category, "category")
        _check_distribution(pattern, "pattern")
        if ((colour < 0) | (colour > 1)).any():
            raise ValueError(f"colour must be RGB in [0, 1], got {colour.tolist()}")
        object.__setattr__(self, "category", category)
        object.__setattr__(self, "colour", colour)
        object.__setattr__(self, "pattern", pattern)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ConditionVector):
            return NotImplemented
        return self.layout == other.layout and np.array_equal(self.to_array(), other.to_array())

    __hash__ = None  # type: ignore[assignment]  # mutable-looking arrays: not hashable

    # -- readable views -----------------------------------------------------------------

    @property
    def category_name(self) -> str:
        """The most likely category (the category, for a one-hot vector)."""
        return self.layout.categories[int(np.argmax(self.category))]

    @property
    def pattern_name(self) -> str:
        """The most likely pattern (the pattern, for a one-hot vector)."""
        return self.layout.patterns[int(np.argmax(self.pattern))]

    # -- arrays and tensors -------------------------------------------------------------

    def to_array(self) -> np.ndarray:
        """(D,) float32 in layout order."""
        return np.concatenate([self.category, self.colour, self.pattern])

    @classmethod
    def from_array(cls, layout: ConditionLayout, array: np.ndarray) -> ConditionVector:
        """Inverse of :meth:`to_array`; ``ValueError`` when the size or values are wrong."""
        values = np.asarray(array, dtype=np.float32)
        if values.shape != (layout.size,):
            raise ValueError(
                f"condition array must have shape ({layout.size},), got {values.shape}"
            )
        return cls(
            layout,
            values[layout.category_slice],
            values[layout.colour_slice],
            values[layout.pattern_slice],
        )

    def to_tensor(self) -> torch.Tensor:
        """(D,) float32 CPU tensor; move it with ``.to(device)``."""
        import torch

        return torch.from_numpy(self.to_array())

    @classmethod
    def from_tensor(cls, layout: ConditionLayout, tensor: torch.Tensor) -> ConditionVector:
        """Inverse of :meth:`to_tensor`; any device, any float dtype."""
        return cls.from_array(layout, tensor.detach().to("cpu").float().numpy())

    # -- provenance records -------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the layout (with its version) and each part as a list of floats."""
        return {
            "layout": self.layout.to_dict(),
            "category": self.category.tolist(),
            "colour": self.colour.tolist(),
            "pattern": self.pattern.tolist(),
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> ConditionVector:
        """Inverse of :meth:`to_dict`; float32 values survive the round trip exactly."""
        unknown = sorted(set(values) - {"layout", "category", "colour", "pattern"})
        if unknown:
            raise ValueError(f"unknown ConditionVector keys: {unknown}")
        missing = [k for k in ("layout", "category", "colour", "pattern") if k not in values]
        if missing:
            raise ValueError(f"ConditionVector dict lacks {missing}")
        layout = ConditionLayout.from_dict(values["layout"])
        return cls(layout, values["category"], values["colour"], values["pattern"])

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ConditionVector:
        return cls.from_dict(json.loads(text))


def one_hot(
    layout: ConditionLayout, category: str | int, rgb: RGBLike, pattern: str | int
) -> ConditionVector:
    """The training condition of one catalog item: one-hot category and pattern, its RGB."""
    category_part = np.zeros(layout.n_categories, dtype=np.float32)
    category_part[layout.category_index(category)] = 1.0
    pattern_part = np.zeros(layout.n_patterns, dtype=np.float32)
    pattern_part[layout.pattern_index(pattern)] = 1.0
    return ConditionVector(layout, category_part, np.asarray(rgb, dtype=np.float32), pattern_part)


def stack(vectors: Sequence[ConditionVector]) -> np.ndarray:
    """(N, D) float32 batch of vectors that share one layout (the generator's input)."""
    if not vectors:
        raise ValueError("stack needs at least one condition vector")
    layout = vectors[0].layout
    if any(v.layout != layout for v in vectors):
        raise ValueError("condition vectors to stack must share one layout")
    return np.stack([v.to_array() for v in vectors])


def unstack(layout: ConditionLayout, array: np.ndarray) -> list[ConditionVector]:
    """Inverse of :func:`stack`: one validated vector per row of an (N, D) array."""
    values = np.asarray(array, dtype=np.float32)
    if values.ndim != 2 or values.shape[1] != layout.size:
        raise ValueError(f"condition batch must have shape (N, {layout.size}), got {values.shape}")
    return [ConditionVector.from_array(layout, row) for row in values]


def one_hot_batch(layout: ConditionLayout, categories: np.ndarray, colours: np.ndarray,
                  patterns: np.ndarray) -> np.ndarray:
    """(N, D) float32 training conditions from index arrays: the vectorised :func:`one_hot`.

    ``categories`` and ``patterns`` are (N,) indices into the layout, ``colours``
    (N, 3) RGB in [0, 1]. Training draws thousands of these per second, so it skips
    the per-vector validation :class:`ConditionVector` does, and checks the batch once.
    """
    categories = np.asarray(categories, dtype=np.int64)
    patterns = np.asarray(patterns, dtype=np.int64)
    colours = np.asarray(colours, dtype=np.float32)
    n = len(categories)
    if categories.shape != (n,) or patterns.shape != (n,) or colours.shape != (n, 3):
        raise ValueError("categories and patterns must be (N,), colours (N, 3); got "
                         f"{categories.shape}, {patterns.shape}, {colours.shape}")
    if n and not (categories.min() >= 0 and categories.max() < layout.n_categories):
        raise ValueError(f"category index outside [0, {layout.n_categories})")
    if n and not (patterns.min() >= 0 and patterns.max() < layout.n_patterns):
        raise ValueError(f"pattern index outside [0, {layout.n_patterns})")
    if not (np.isfinite(colours).all() and ((colours >= 0) & (colours <= 1)).all()):
        raise ValueError("colours must be RGB in [0, 1]")
    conditions = np.zeros((n, layout.size), dtype=np.float32)
    rows = np.arange(n)
    conditions[rows, categories] = 1.0
    conditions[:, layout.colour_slice] = colours
    conditions[rows, layout.pattern_slice.start + patterns] = 1.0
    return conditions
