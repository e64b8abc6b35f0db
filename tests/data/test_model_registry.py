"""Model versions: registration and atomic activation on both databases."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from pigen.data.model_registry import (
    activate_model_version,
    active_model_version,
    list_model_versions,
    register_model_version,
)


def artifact(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    path.write_bytes(b"x")
    return path


def test_register_activates_and_swaps(engine: Engine, tmp_path: Path) -> None:
    first = register_model_version(engine, "als", artifact(tmp_path, "a.npz"), {"factors": 8})
    assert active_model_version(engine, "als") == first
    second = register_model_version(engine, "als", artifact(tmp_path, "b.npz"), {"factors": 16},
                                    metrics={"ndcg@10": 0.1})
    active = active_model_version(engine, "als")
    assert active is not None and active.id == second.id and active.metrics == {"ndcg@10": 0.1}
    assert [v.is_active for v in list_model_versions(engine, "als")] == [True, False]
    activate_model_version(engine, first.id)
    assert active_model_version(engine, "als").id == first.id  # type: ignore[union-attr]
    assert active_model_version(engine, "generator") is None


def test_unactivated_and_missing(engine: Engine, tmp_path: Path) -> None:
    register_model_version(engine, "als", artifact(tmp_path, "a.npz"), {}, activate=False)
    assert active_model_version(engine, "als") is None
    with pytest.raises(FileNotFoundError):
        register_model_version(engine, "als", tmp_path / "missing.npz", {})
    with pytest.raises(LookupError):
        activate_model_version(engine, 12345)
