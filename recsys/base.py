"""The one Recommender interface that ALS and the popularity baseline both implement.

Everything here speaks rows: user rows and item rows of a users x items matrix,
as laid out by the model's two :class:`~pigen.data.idmap.IdMap` s. The public
methods validate their input and shape their output once, here; models only
implement the underscored hooks, always in batch (one call for many users).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import scipy.sparse as sp

from pigen.data.idmap import IdMap

UserRows = int | Sequence[int] | np.ndarray
# implicit marks filtered items with this score when too few remain.
_FILTERED = np.finfo(np.float32).min


class NotFittedError(RuntimeError):
    """The model has neither been fitted nor loaded."""


@dataclass(frozen=True)
class Recommendation:
    """One recommended item for one user."""

    item_id: str
    item_row: int
    score: float


class Recommender(ABC):
    """Fit on a users x items matrix; recommend, find similar items, save and load.

    ``recommend`` and ``similar_items`` return ``(item_rows, scores)``: 1-D arrays
    of length ``n`` for one user/item, 2-D ``(count, n)`` for an array of them.
    When fewer than ``n`` items are eligible the tail is padded with row ``-1``
    and score ``-inf``. Scores are comparable within one call only.
    """

    kind: ClassVar[str]  # written into saved files; picks the class when loading

    def __init__(self) -> None:
        self._users: IdMap | None = None
        self._items: IdMap | None = None

    # -- what every model implements ------------------------------------------------

    @abstractmethod
    def fit(self, user_items: sp.csr_matrix, users: IdMap, items: IdMap) -> Self:
        """Learn from ``user_items`` (users x items, rows/cols laid out by the maps)."""

    @abstractmethod
    def save(self, path: str | Path) -> None:
        """Write the model, its id maps and its config to one ``.npz`` file."""

    @classmethod
    @abstractmethod
    def load(cls, path: str | Path, data: bytes | None = None) -> Self:
        """Read a file written by :meth:`save`, validating every key and shape.

        ``data`` is the file's bytes when the caller already read (and checked)
        them; ``path`` then only names the file in errors.
        """

    @abstractmethod
    def _recommend_rows(
        self, user_rows: np.ndarray, user_items: sp.csr_matrix, n: int, filter_liked: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top ``n`` (<= n_items) for known users; (users, n) ids and scores."""

    @abstractmethod
    def _recommend_new(
        self, user_items: sp.csr_matrix, n: int, filter_liked: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top ``n`` for users given only by their interaction rows; (rows, n)."""

    @abstractmethod
    def _similar_rows(self, item_rows: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Top ``n`` most similar items (the item itself may be among them); (items, n)."""

    # -- the shared, validated public surface ----------------------------------------

    @property
    def users(self) -> IdMap:
        return _fitted(self._users, self)

    @property
    def items(self) -> IdMap:
        return _fitted(self._items, self)

    @property
    def is_fitted(self) -> bool:
        return self._items is not None

    def config_dict(self) -> dict[str, Any]:
        """The hyperparameters, JSON-ready (for a model registry row); none by default."""
        return {}

    def recommend(
        self,
        users: UserRows,
        user_items: sp.csr_matrix,
        n: int = 10,
        filter_already_liked: bool = True,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top ``n`` item rows and scores for known user rows, in one batch call.

        ``user_items`` holds one row per requested user (e.g. ``train[rows]``): the
        items to filter out when ``filter_already_liked``. Use
        :meth:`recommend_from_items` for users unknown to the model or whose
        interactions changed since the fit.
        """
        rows, scalar = _as_rows(users, len(self.users), "user")
        user_items = check_user_items(user_items, len(rows), len(self.items))
        n_eligible = _check_n(n, len(self.items))
        ids, scores = self._recommend_rows(rows, user_items, n_eligible, filter_already_liked)
        return _shape_output(ids, scores, n, scalar)

    def recommend_from_items(
        self, user_items: sp.csr_matrix, n: int = 10, filter_already_liked: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top ``n`` for users described only by their interactions, without a refit.

        ``user_items`` is (users x items), one row per user, values as in training.
        A row with no interactions gets the model's cold-start answer. Returns
        (rows, n) arrays even for one row.
        """
        user_items = check_user_items(user_items, None, len(self.items))
        n_eligible = _check_n(n, len(self.items))
        ids, scores = self._recommend_new(user_items, n_eligible, filter_already_liked)
        return _shape_output(ids, scores, n, scalar=False)

    def similar_items(self, items: UserRows, n: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The ``n`` items most similar to each given item row, never the item itself."""
        rows, scalar = _as_rows(items, len(self.items), "item")
        n_eligible = _check_n(n, len(self.items) - 1)
        ids, scores = self._similar_rows(rows, min(n_eligible + 1, len(self.items)))
        ids, scores = _drop_self(ids, scores, rows, n_eligible)
        return _shape_output(ids, scores, n, scalar)

    def to_recommendations(self, item_rows: np.ndarray, scores: np.ndarray) -> list[Recommendation]:
        """One user's ``(item_rows, scores)`` as external ids, padding dropped."""
        items = self.items
        return [
            Recommendation(items.id_of(int(row)), int(row), float(score))
            for row, score in zip(item_rows, scores, strict=True)
            if row >= 0
        ]


def check_user_items(user_items: object, n_users: int | None, n_items: int) -> sp.csr_matrix:
    """Return ``user_items`` as a float32 ``csr_matrix`` of shape (n_users, n_items).

    ``n_users=None`` accepts any number of rows (users the model has not seen).

    implicit accepts a transposed (items x users) matrix silently and swaps the
    factors, and converts COO with only a warning; both are errors here.
    """
    if not sp.issparse(user_items) or user_items.format != "csr":  # type: ignore[attr-defined]
        raise TypeError(f"user_items must be a scipy CSR matrix, got {type(user_items).__name__}")
    shape = user_items.shape  # type: ignore[attr-defined]
    if shape[1] != n_items or (n_users is not None and shape[0] != n_users):
        expected = (n_users if n_users is not None else "any", n_items)
        hint = " (it looks transposed: pass users x items)" if shape == (n_items, n_users) else ""
        raise ValueError(f"user_items has shape {shape}, expected {expected}{hint}")
    matrix = sp.csr_matrix(user_items, dtype=np.float32)
    if not np.isfinite(matrix.data).all():
        raise ValueError("user_items holds NaN or infinite values")
    return matrix


def not_fitted(model: Recommender) -> NotFittedError:
    """The error for using ``model`` before ``fit``/``load``; ``raise not_fitted(self)``."""
    return NotFittedError(f"{type(model).__name__} is not fitted; call fit() or load()")


def _fitted(value: IdMap | None, model: Recommender) -> IdMap:
    if value is None:
        raise not_fitted(model)
    return value


def _as_rows(rows: UserRows, count: int, what: str) -> tuple[np.ndarray, bool]:
    scalar = np.isscalar(rows) or (isinstance(rows, np.ndarray) and rows.ndim == 0)
    array = np.atleast_1d(np.asarray(rows))
    if array.ndim != 1 or (array.size and array.dtype.kind not in "iu"):
        raise TypeError(f"{what} rows must be an int or a 1-D array of ints")
    array = array.astype(np.int64, copy=False)
    if array.size and (array.min() < 0 or array.max() >= count):
        raise IndexError(f"{what} rows must lie in [0, {count}); got {array.min()}..{array.max()}")
    return array, scalar


def _check_n(n: int, available: int) -> int:
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    return max(0, min(int(n), available))


def _drop_self(
    ids: np.ndarray, scores: np.ndarray, rows: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray]:
    # Stable sort on "is the query item" moves it to the end, keeping the ranking.
    order = np.argsort(ids == rows[:, None], axis=1, kind="stable")[:, :n]
    return np.take_along_axis(ids, order, axis=1), np.take_along_axis(scores, order, axis=1)


def _shape_output(
    ids: np.ndarray, scores: np.ndarray, n: int, scalar: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Mark filtered slots as -1/-inf, pad to ``n`` columns, squeeze a scalar query."""
    ids = np.asarray(ids, dtype=np.int64)  # (queries, <= n)
    scores = np.array(scores, dtype=np.float32)
    empty = scores <= _FILTERED
    ids = np.where(empty, -1, ids)
    scores[empty] = -np.inf
    missing = n - ids.shape[1]
    if missing > 0:
        ids = np.pad(ids, ((0, 0), (0, missing)), constant_values=-1)
        scores = np.pad(scores, ((0, 0), (0, missing)), constant_values=-np.inf)
    if scalar:
        return ids[0], scores[0]
    return ids, scores
