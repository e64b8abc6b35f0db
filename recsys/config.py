"""ALSConfig: every ALS hyperparameter in one typed, validated place, saved with the model."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Literal, get_args

Weighting = Literal["raw", "bm25", "tfidf"]
WEIGHTINGS: tuple[str, ...] = get_args(Weighting)

_BM25_K1 = 100.0
_BM25_B = 0.8


@dataclass(frozen=True)
class ALSConfig:
    """Hyperparameters of :class:`pigen.recsys.als.ALSRecommender`.

    Confidence of an observed (user, item) pair is ``alpha * w(value)`` where
    ``w`` is the ``weighting``; unobserved pairs have confidence 1 and
    preference 0 (Hu, Koren & Volinsky 2008, as implicit implements it).
    """

    # Latent dimensions per user and item; more fits more taste but needs more
    # regularization on small data (MovieLens 100k peaks around 32-64).
    factors: int = 64
    # L2 penalty on the factors. Far above implicit's 0.01 default: on MovieLens
    # 100k (ratings as values) 10-30 ranked best on validation for both splits
    # and >= 100 collapsed to popularity (see shared/RECIPES.md).
    regularization: float = 20.0
    # Scales every confidence. With 0.5-5 star ratings as values, 0.5 ranked best
    # (a 2-star rating then weighs about as much as an unobserved pair); data
    # with counts or 0/1 values wants its own search.
    alpha: float = 0.5
    # Full ALS sweeps (users then items); implicit's conjugate-gradient solver
    # converges in ~15 on small data.
    iterations: int = 15
    # How raw values become confidences: "raw" uses them as they are, "bm25"
    # and "tfidf" damp heavy users and popular items (implicit's formulas).
    weighting: Weighting = "raw"
    # Subtracted from every value before weighting; entries that become 0 are
    # dropped and negative ones are dislikes (implicit's negative feedback).
    # With 1-5 star ratings, 3 makes 1-2 stars say "not this", which the
    # taste bridge needs: raw stars treat a 1-star rating as mild interest.
    # Only with weighting="raw" (BM25/TF-IDF are undefined for negatives).
    value_offset: float = 0.0
    # BM25 saturation: larger K1 lets repeated/high values count longer.
    bm25_k1: float = _BM25_K1
    # BM25 length normalisation of items (0 = none, 1 = full).
    bm25_b: float = _BM25_B
    # Seeds the random initial factors, so a fit is reproducible.
    random_seed: int = 0
    # Threads implicit uses for fitting and batch recommend; 0 = all cores.
    # One by default: on the 2-core machines we run on, one thread fitted as
    # fast as two when idle and ~3x faster with a neighbour busy on the other.
    num_threads: int = 1
    # Fit on CUDA through implicit.gpu (serving always runs on the CPU copy).
    use_gpu: bool = False

    def __post_init__(self) -> None:
        _check_types(self)
        self._check_values()

    def _check_values(self) -> None:
        """All range and cross-field rules, in one place."""
        problems: list[str] = []
        if self.factors < 1:
            problems.append(f"factors must be >= 1, got {self.factors}")
        if not (math.isfinite(self.regularization) and self.regularization >= 0):
            problems.append(f"regularization must be finite and >= 0, got {self.regularization}")
        if not (math.isfinite(self.alpha) and self.alpha > 0):
            problems.append(f"alpha must be finite and > 0, got {self.alpha}")
        if self.iterations < 1:
            problems.append(f"iterations must be >= 1, got {self.iterations}")
        if self.weighting not in WEIGHTINGS:
            problems.append(f"weighting must be one of {WEIGHTINGS}, got {self.weighting!r}")
        if not (math.isfinite(self.bm25_k1) and self.bm25_k1 >= 0):
            problems.append(f"bm25_k1 must be finite and >= 0, got {self.bm25_k1}")
        if not 0.0 <= self.bm25_b <= 1.0:
            problems.append(f"bm25_b must be in [0, 1], got {self.bm25_b}")
        # A BM25 setting under another weighting would be silently ignored.
        if self.weighting != "bm25" and (self.bm25_k1, self.bm25_b) != (_BM25_K1, _BM25_B):
            problems.append("bm25_k1/bm25_b only apply with weighting='bm25'")
        if not math.isfinite(self.value_offset):
            problems.append(f"value_offset must be finite, got {self.value_offset}")
        elif self.value_offset != 0 and self.weighting != "raw":
            problems.append("value_offset only applies with weighting='raw'")
        if self.random_seed < 0:
            problems.append(f"random_seed must be >= 0, got {self.random_seed}")
        if self.num_threads < 0:
            problems.append(f"num_threads must be >= 0 (0 = all cores), got {self.num_threads}")
        if self.use_gpu and not gpu_available():
            problems.append("use_gpu=True but implicit.gpu.HAS_CUDA is False on this machine")
        if problems:
            raise ValueError("invalid ALSConfig: " + "; ".join(problems))

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> ALSConfig:
        """Build from a mapping (JSON, CLI); unknown keys are an error, missing ones default."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown ALSConfig keys: {unknown}; known: {sorted(known)}")
        return cls(**dict(values))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values, the inverse of :meth:`from_dict`."""
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> ALSConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


def gpu_available() -> bool:
    """Whether implicit was built with CUDA and sees a device."""
    import implicit.gpu

    return bool(implicit.gpu.HAS_CUDA)


def _check_types(config: ALSConfig) -> None:
    """Reject wrong types; ints are accepted (and converted) for float fields."""
    expected = {"int": int, "float": float, "bool": bool, "Weighting": str}
    for f in fields(config):
        value = getattr(config, f.name)
        kind = expected[str(f.type)]
        # bool is an int subclass: True must not pass as factors=1.
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            object.__setattr__(config, f.name, float(value))
            continue
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            raise TypeError(
                f"ALSConfig.{f.name} must be {kind.__name__}, got {type(value).__name__} "
                f"{value!r}"
            )
