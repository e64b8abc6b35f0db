"""ALSRecommender: implicit's AlternatingLeastSquares behind the Recommender interface.

Adds what implicit leaves to the caller: shape checks against the id maps, a
confidence weighting kept with the model, one safe file format, fold-in of
fresh interactions with a cold-start prior, and explanations by external id.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import implicit.cpu.als
import numpy as np
import scipy.sparse as sp
from implicit.cpu.topk import topk

from pigen.data.idmap import IdMap
from pigen.recsys.base import (
    Recommender,
    _check_n,
    _shape_output,
    check_user_items,
    not_fitted,
)
from pigen.recsys.blas import single_threaded_blas
from pigen.recsys.config import ALSConfig, gpu_available
from pigen.recsys.storage import (
    ModelFileError,
    expect_dtype_kind,
    expect_shape,
    id_map_from,
    load_arrays,
    save_arrays,
)
from pigen.recsys.value_mapping import ValueMap
from pigen.recsys.weighting import ConfidenceWeighting

_KEYS = frozenset(
    {"config_json", "user_ids", "item_ids", "user_factors", "item_factors",
     "item_length_norm", "item_counts"}
)


@dataclass(frozen=True)
class Contribution:
    """How much one item the user rated pushed a recommended item's score."""

    item_id: str
    item_row: int
    weight: float


@dataclass(frozen=True)
class Explanation:
    """Why ``item`` scored ``score`` for a user: the rated items that added most."""

    item_id: str
    item_row: int
    score: float
    contributions: tuple[Contribution, ...]  # largest weight first


class ALSRecommender(Recommender):
    """Implicit-feedback matrix factorisation (implicit's conjugate-gradient ALS).

    Scores are dot products of user and item factors. Users with interactions
    newer than the fit are folded in by a least-squares solve against the fixed
    item factors (:meth:`fold_in`); users with none get :meth:`cold_prior`.
    """

    kind = "als"

    def __init__(self, config: ALSConfig | None = None) -> None:
        super().__init__()
        self._config = config if config is not None else ALSConfig()
        self._model: implicit.cpu.als.AlternatingLeastSquares | None = None
        self._weighting: ConfidenceWeighting | None = None
        self._item_counts: np.ndarray | None = None  # (items,) training interactions per item
        self._prior: np.ndarray | None = None  # (factors,) cached cold_prior

    # -- fitting ----------------------------------------------------------------------

    def fit(self, user_items: sp.csr_matrix, users: IdMap, items: IdMap) -> Self:
        """Factorise ``user_items`` (users x items); values become confidences per the config."""
        user_items = check_user_items(user_items, len(users), len(items))
        config = self.config
        mapped = ValueMap.of(config).apply(user_items)
        weighting = ConfidenceWeighting.fit(mapped, config.weighting, config.bm25_k1,
                                            config.bm25_b)
        confidences = weighting.transform(mapped)
        if confidences.nnz == 0:
            raise ValueError("no interactions left to fit after mapping and weighting "
                             f"(value_mapping {config.value_mapping!r} dropped them all?)")
        model = _fit_implicit(config, confidences)
        self._install(model, users, items, weighting, np.bincount(user_items.indices,
                                                                  minlength=len(items)))
        return self

    def _install(
        self,
        model: implicit.cpu.als.AlternatingLeastSquares,
        users: IdMap,
        items: IdMap,
        weighting: ConfidenceWeighting,
        item_counts: np.ndarray,
    ) -> None:
        self._model, self._users, self._items = model, users, items
        self._weighting = weighting
        self._item_counts = np.asarray(item_counts, dtype=np.int64)
        self._prior = None

    @property
    def config(self) -> ALSConfig:
        """The hyperparameters (read-only: the factors were fitted under them)."""
        return self._config

    def config_dict(self) -> dict[str, Any]:
        return self.config.to_dict()

    @property
    def user_factors(self) -> np.ndarray:
        """(users, factors) float32, row-aligned with :attr:`users`."""
        return self._fitted_model().user_factors

    @property
    def item_factors(self) -> np.ndarray:
        """(items, factors) float32, row-aligned with :attr:`items`."""
        return self._fitted_model().item_factors

    # -- fold-in and cold start -------------------------------------------------------

    def weighted(self, user_items: sp.csr_matrix) -> sp.csr_matrix:
        """These rows as the model sees them: values mapped and weighted like training.

        An entry the mapping drops (e.g. a 3-star rating with value_offset=3, or
        below binary_threshold) says nothing to the model; a row left empty
        gets the cold prior.
        """
        rows = check_user_items(user_items, None, len(self.items))
        return self._fitted_weighting().transform(ValueMap.of(self.config).apply(rows))

    def fold_in(self, user_items: sp.csr_matrix) -> np.ndarray:
        """Factors for users given by their interaction rows, solved without a refit.

        Each row (values as in training) is weighted like the training data and
        solved exactly by implicit's ``recalculate_user`` (Cholesky least squares
        against the frozen item factors). Rows left with no interactions get
        :meth:`cold_prior`. Returns (rows, factors) float32.
        """
        model = self._fitted_model()
        confidences = self.weighted(user_items)
        # Per request: no BLAS limit here (a server pins BLAS once, recsys/blas.py).
        factors = model.recalculate_user(np.arange(confidences.shape[0]), confidences)
        factors = np.asarray(factors, dtype=np.float32)
        factors[np.diff(confidences.indptr) == 0] = self.cold_prior()
        return factors

    @property
    def item_counts(self) -> np.ndarray:
        """(items,) training interactions per item (what the cold prior is weighted by)."""
        if self._item_counts is None:
            raise not_fitted(self)
        return self._item_counts

    def cold_prior(self) -> np.ndarray:
        """Factor for a user with no interactions: the popularity-weighted mean item factor.

        ``sum_i count_i * y_i / sum_i count_i`` with ``count_i`` the item's
        training interactions: scores then favour items whose factors point where
        most consumption is, i.e. a popularity ranking seen through the model.
        A least-squares fold-in of an empty row would give 0 and rank arbitrarily.
        """
        if self._prior is None:
            counts = self.item_counts.astype(np.float64)
            total = counts.sum()
            weights = counts / total if total > 0 else np.full_like(counts, 1 / len(counts))
            self._prior = (weights @ self.item_factors).astype(np.float32)
        return self._prior

    def recommend_from_factors(
        self, user_factors: np.ndarray, user_items: sp.csr_matrix, n: int = 10,
        filter_already_liked: bool = True,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top ``n`` for factors chosen elsewhere (serving: trained, folded in or the prior).

        ``user_factors`` is (factors,) for one user or (users, factors);
        ``user_items`` has the matching rows, used to filter already-rated items.
        Output is shaped like :meth:`recommend`'s.
        """
        factors = np.atleast_2d(np.asarray(user_factors, dtype=np.float32))
        user_items = check_user_items(user_items, len(factors), len(self.items))
        n_eligible = _check_n(n, len(self.items))
        ids, scores = self._top_items(factors, user_items, n_eligible, filter_already_liked)
        return _shape_output(ids, scores, n, scalar=np.ndim(user_factors) == 1)

    # -- explanations -----------------------------------------------------------------

    def explain(self, user_items: sp.csr_matrix, item: int, n: int = 10) -> Explanation:
        """Which of a user's rated items made ``item`` score as it does (implicit's explain).

        ``user_items`` is that user's one row (1 x items); the score explained is
        the folded-in score of that row, whose terms are one per rated item.
        """
        model = self._fitted_model()
        user_items = check_user_items(user_items, 1, len(self.items))
        if not 0 <= item < len(self.items):
            raise IndexError(f"item row {item} outside [0, {len(self.items)})")
        confidences = self.weighted(user_items)
        # implicit's explain indexes user_items by userid: a 1-row matrix and userid 0.
        total, top, _ = model.explain(0, confidences, int(item), N=n)
        items = self.items
        contributions = tuple(
            Contribution(items.id_of(int(row)), int(row), float(weight)) for row, weight in top
        )
        return Explanation(items.id_of(int(item)), int(item), float(total), contributions)

    # -- the Recommender hooks --------------------------------------------------------

    def _recommend_rows(
        self, user_rows: np.ndarray, user_items: sp.csr_matrix, n: int, filter_liked: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        return self._top_items(self.user_factors[user_rows], user_items, n, filter_liked)

    def _recommend_new(
        self, user_items: sp.csr_matrix, n: int, filter_liked: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        return self._top_items(self.fold_in(user_items), user_items, n, filter_liked)

    def _similar_rows(self, item_rows: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        # Cosine similarity of item factors, as implicit defines it.
        return self._fitted_model().similar_items(item_rows, N=n)

    def _top_items(
        self, user_factors: np.ndarray, user_items: sp.csr_matrix, n: int, filter_liked: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top ``n`` dot-product scores; the same kernel implicit's ``recommend`` uses."""
        return topk(
            self.item_factors,
            np.ascontiguousarray(user_factors, dtype=np.float32),
            n,
            filter_query_items=user_items if filter_liked else None,
            num_threads=self.config.num_threads,
        )

    def _fitted_model(self) -> implicit.cpu.als.AlternatingLeastSquares:
        if self._model is None:
            raise not_fitted(self)
        return self._model

    def _fitted_weighting(self) -> ConfidenceWeighting:
        if self._weighting is None:
            raise not_fitted(self)
        return self._weighting

    # -- files ------------------------------------------------------------------------

    def save(self, path: str | Path) -> None:
        """One ``.npz``: factors, id maps, config JSON, weighting and popularity stats."""
        weighting, item_counts = self._fitted_weighting(), self.item_counts
        save_arrays(
            path,
            self.kind,
            {
                "config_json": np.asarray(json.dumps(self.config.to_dict(), sort_keys=True)),
                "user_ids": self.users.to_array(),
                "item_ids": self.items.to_array(),
                "user_factors": self.user_factors,
                "item_factors": self.item_factors,
                "item_length_norm": weighting.item_length_norm,
                "item_counts": item_counts,
            },
        )

    @classmethod
    def load(cls, path: str | Path, data: bytes | None = None) -> Self:
        """Read a file from :meth:`save`; every key, dtype and shape is checked.

        A model fitted on a GPU loads on a CPU-only machine with ``use_gpu``
        read as False: everything after the fit runs on the CPU anyway.
        ``data`` is the file's bytes when the caller already read (and checked) them.
        """
        arrays = load_arrays(path, cls.kind, _KEYS, data)
        config = _config_from(path, arrays["config_json"])
        users = id_map_from(path, "user_ids", arrays["user_ids"])
        items = id_map_from(path, "item_ids", arrays["item_ids"])
        n_users, n_items, factors = len(users), len(items), config.factors
        expect_shape(path, "user_factors", arrays["user_factors"], (n_users, factors))
        expect_shape(path, "item_factors", arrays["item_factors"], (n_items, factors))
        expect_shape(path, "item_length_norm", arrays["item_length_norm"], (n_items,))
        expect_shape(path, "item_counts", arrays["item_counts"], (n_items,))
        for name in ("user_factors", "item_factors", "item_length_norm"):
            expect_dtype_kind(path, name, arrays[name], "f")
            if not np.isfinite(arrays[name]).all():
                raise ModelFileError(f"{path}: {name} holds NaN or infinite values")
        expect_dtype_kind(path, "item_counts", arrays["item_counts"], "iu")

        model = _implicit_model(config.replace(use_gpu=False))
        model.user_factors = np.ascontiguousarray(arrays["user_factors"], dtype=np.float32)
        model.item_factors = np.ascontiguousarray(arrays["item_factors"], dtype=np.float32)
        weighting = ConfidenceWeighting(
            config.weighting, config.bm25_k1, config.bm25_b,
            arrays["item_length_norm"].astype(np.float32),
        )
        recommender = cls(config)
        recommender._install(model, users, items, weighting, arrays["item_counts"])
        return recommender


def _implicit_arguments(config: ALSConfig) -> dict[str, Any]:
    return {
        "factors": config.factors,
        "regularization": config.regularization,
        "alpha": config.alpha,
        "iterations": config.iterations,
        "random_state": config.random_seed,
        "dtype": np.float32,
    }


def _implicit_model(config: ALSConfig) -> implicit.cpu.als.AlternatingLeastSquares:
    """An unfitted CPU model for ``config`` (also the shell a loaded file fills)."""
    # implicit checks the BLAS thread count when a model is built and warns
    # unless it is already limited.
    with single_threaded_blas():
        return implicit.cpu.als.AlternatingLeastSquares(
            **_implicit_arguments(config), num_threads=config.num_threads
        )


def _fit_implicit(
    config: ALSConfig, confidences: sp.csr_matrix
) -> implicit.cpu.als.AlternatingLeastSquares:
    """Fit on the CPU, or on CUDA when asked; either way return the CPU model.

    Serving, fold-in and explanations all run on the CPU copy.
    """
    with single_threaded_blas():
        if not config.use_gpu:
            model = _implicit_model(config)
            model.fit(confidences, show_progress=False)
            return model
        import implicit.gpu.als

        gpu_model = implicit.gpu.als.AlternatingLeastSquares(**_implicit_arguments(config))
        gpu_model.fit(confidences, show_progress=False)
        return gpu_model.to_cpu()


def _config_from(path: str | Path, config_json: np.ndarray) -> ALSConfig:
    if config_json.shape != () or config_json.dtype.kind != "U":
        raise ModelFileError(f"{path}: config_json must be one string")
    try:
        values = json.loads(str(config_json[()]))
        # A model fitted on a GPU machine still serves here (serving runs on the CPU copy).
        if isinstance(values, dict) and values.get("use_gpu") and not gpu_available():
            values["use_gpu"] = False
        return ALSConfig.from_dict(values)  # a non-object is a ConfigError too
    except ValueError as error:  # bad JSON or a ConfigError
        raise ModelFileError(f"{path}: bad config_json ({error})") from None
