"""ALSConfig: every ALS hyperparameter in one typed, validated place, saved with the model."""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import Field, model_validator

from pigen.data.typed_config import TypedConfig

Weighting = Literal["raw", "bm25", "tfidf"]
WEIGHTINGS: tuple[str, ...] = get_args(Weighting)
ValueMapping = Literal["raw", "offset", "binary", "log"]
VALUE_MAPPINGS: tuple[str, ...] = get_args(ValueMapping)

_BM25_K1 = 100.0
_BM25_B = 0.8
_BINARY_THRESHOLD = 4.0


class ALSConfig(TypedConfig):
    """Hyperparameters of :class:`pigen.recsys.als.ALSRecommender`.

    Confidence of an observed (user, item) pair is ``alpha * w(m(value))``
    where ``m`` is the ``value_mapping`` and ``w`` the ``weighting``; unobserved
    pairs have confidence 1 and preference 0 (Hu, Koren & Volinsky 2008, as
    implicit implements it).
    Types, ranges and finiteness are checked by :class:`TypedConfig`; the rules
    between fields are in :meth:`_check_rules`.
    """

    # Latent dimensions per user and item; more fits more taste but needs more
    # regularization on small data (MovieLens 100k peaks around 32-64).
    factors: int = Field(default=64, ge=1)
    # L2 penalty on the factors. Far above implicit's 0.01 default: on MovieLens
    # 100k (ratings as values) 10-30 ranked best on validation for both splits
    # and >= 100 collapsed to popularity (see shared/RECIPES.md).
    regularization: float = Field(default=20.0, ge=0)
    # Scales every confidence. With 0.5-5 star ratings as values, 0.5 ranked best
    # (a 2-star rating then weighs about as much as an unobserved pair); data
    # with counts or 0/1 values wants its own search.
    alpha: float = Field(default=0.5, gt=0)
    # Full ALS sweeps (users then items); implicit's conjugate-gradient solver
    # converges in ~15 on small data.
    iterations: int = Field(default=15, ge=1)
    # How raw values become confidences: "raw" uses them as they are, "bm25"
    # and "tfidf" damp heavy users and popular items (implicit's formulas).
    weighting: Weighting = "raw"
    # What a stored value means to the model, applied before the weighting:
    # "raw" as it is; "offset" subtracts value_offset (low stars become
    # dislikes); "binary": values >= binary_threshold count as 1, the rest are
    # dropped ("liked-only", the usual protocol for ratings); "log": log1p(value)
    # damps repeated implicit events (counts, plays).
    value_mapping: ValueMapping = "raw"
    # With value_mapping="offset": subtracted from every value; entries that
    # become 0 are dropped and negative ones are dislikes (implicit's negative
    # feedback). With 1-5 star ratings, 3 makes 1-2 stars say "not this", which
    # the taste bridge needs: raw stars treat a 1-star rating as mild interest.
    value_offset: float = 0.0
    # With value_mapping="binary": the lowest value that counts as a like
    # (4 = "4 stars or more" on a 5-star scale).
    binary_threshold: float = _BINARY_THRESHOLD
    # BM25 saturation: larger K1 lets repeated/high values count longer.
    bm25_k1: float = Field(default=_BM25_K1, ge=0)
    # BM25 length normalisation of items (0 = none, 1 = full).
    bm25_b: float = Field(default=_BM25_B, ge=0, le=1)
    # Seeds the random initial factors, so a fit is reproducible.
    random_seed: int = Field(default=0, ge=0)
    # Threads implicit uses for fitting and batch recommend; 0 = all cores.
    # One by default: on the 2-core machines we run on, one thread fitted as
    # fast as two when idle and ~3x faster with a neighbour busy on the other.
    num_threads: int = Field(default=1, ge=0)
    # Fit on CUDA through implicit.gpu (serving always runs on the CPU copy).
    use_gpu: bool = False

    @model_validator(mode="after")
    def _check_rules(self) -> ALSConfig:
        """The rules between fields: settings that would be silently ignored, and CUDA."""
        problems: list[str] = []
        # A BM25 setting under another weighting would be silently ignored.
        if self.weighting != "bm25" and (self.bm25_k1, self.bm25_b) != (_BM25_K1, _BM25_B):
            problems.append("bm25_k1/bm25_b only apply with weighting='bm25'")
        if self.value_offset != 0 and self.value_mapping != "offset":
            problems.append("value_offset only applies with value_mapping='offset'")
        if self.value_mapping == "offset" and self.value_offset == 0:
            problems.append("value_mapping='offset' needs a non-zero value_offset")
        if self.value_mapping == "offset" and self.weighting != "raw":
            # Offsets make negative values; BM25/TF-IDF are undefined for them.
            problems.append("value_mapping='offset' only works with weighting='raw'")
        if self.value_mapping != "binary" and self.binary_threshold != _BINARY_THRESHOLD:
            problems.append("binary_threshold only applies with value_mapping='binary'")
        if self.use_gpu and not gpu_available():
            problems.append("use_gpu=True but implicit.gpu.HAS_CUDA is False on this machine")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @classmethod
    def _migrate(cls, values: dict[str, Any]) -> dict[str, Any]:
        """Files written before value_mapping existed meant "offset" by a non-zero value_offset."""
        if "value_mapping" not in values and values.get("value_offset", 0) != 0:
            values = {**values, "value_mapping": "offset"}
        return values


def gpu_available() -> bool:
    """Whether implicit was built with CUDA and sees a device."""
    import implicit.gpu

    return bool(implicit.gpu.HAS_CUDA)

