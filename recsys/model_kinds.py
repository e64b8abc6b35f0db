"""The model kinds a saved file can hold, and one loader that picks the right class."""

from __future__ import annotations

from pathlib import Path

from pigen.recsys.als import ALSRecommender
from pigen.recsys.base import Recommender
from pigen.recsys.popularity import PopularityRecommender
from pigen.recsys.storage import ModelFileError, read_kind

MODEL_KINDS: dict[str, type[Recommender]] = {
    ALSRecommender.kind: ALSRecommender,
    PopularityRecommender.kind: PopularityRecommender,
}


def load_recommender(path: str | Path) -> Recommender:
    """Load any saved recommender; the file's ``kind`` entry picks the class."""
    kind = read_kind(path)
    if kind not in MODEL_KINDS:
        raise ModelFileError(f"{path}: unknown model kind {kind!r}; known {sorted(MODEL_KINDS)}")
    return MODEL_KINDS[kind].load(path)
