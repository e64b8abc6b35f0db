"""The model kinds a saved file can hold: one loader that picks the class, one builder."""

from __future__ import annotations

from pathlib import Path

from pigen.recsys.als import ALSRecommender
from pigen.recsys.base import Recommender
from pigen.recsys.config import ALSConfig
from pigen.recsys.popularity import PopularityRecommender
from pigen.recsys.storage import ModelFileError, read_kind

MODEL_KINDS: dict[str, type[Recommender]] = {
    ALSRecommender.kind: ALSRecommender,
    PopularityRecommender.kind: PopularityRecommender,
}


def load_recommender(path: str | Path, data: bytes | None = None) -> Recommender:
    """Load any saved recommender; the file's ``kind`` entry picks the class.

    ``data`` is the file's bytes when the caller already read (and checked) them.
    """
    kind = read_kind(path, data)
    if kind not in MODEL_KINDS:
        raise ModelFileError(f"{path}: unknown model kind {kind!r}; known {sorted(MODEL_KINDS)}")
    return MODEL_KINDS[kind].load(path, data)


def build_recommender(kind: str, als_config: ALSConfig | None = None) -> Recommender:
    """An unfitted model of ``kind``; ``als_config`` is ALS's and only ALS's.

    Raises
    ------
    ValueError
        ``kind`` is unknown, or a config was given for a model that takes none.
    """
    if kind == ALSRecommender.kind:
        return ALSRecommender(als_config)
    if kind == PopularityRecommender.kind:
        if als_config is not None:
            raise ValueError("the popularity model has no settings; drop --config/--set")
        return PopularityRecommender()
    raise ValueError(f"unknown model {kind!r}; pick one of {', '.join(sorted(MODEL_KINDS))}")
