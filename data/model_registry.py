"""Model versions: artifacts on disk registered in the database, one active per kind.

Activation happens in one transaction (deactivate the old, activate the new),
backed by a partial unique index, so readers see either the old or the new
version and never none or two.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select, update

from pigen.data.database import session_scope
from pigen.data.schema import ModelVersion


@dataclass(frozen=True)
class ModelVersionInfo:
    """A detached, read-only view of one model_versions row."""

    id: int
    kind: str
    path: Path
    config: dict[str, Any]
    metrics: dict[str, Any]
    created_at: datetime
    is_active: bool

    @classmethod
    def of(cls, row: ModelVersion) -> ModelVersionInfo:
        return cls(row.id, row.kind, Path(row.path), dict(row.config), dict(row.metrics),
                   row.created_at, row.is_active)


def register_model_version(engine: Engine, kind: str, path: Path, config: dict[str, Any],
                           metrics: dict[str, Any] | None = None, activate: bool = True
                           ) -> ModelVersionInfo:
    """Record an artifact that is already on disk; optionally make it the active one."""
    if not path.is_file():
        raise FileNotFoundError(f"model file {path} does not exist; save it before registering")
    with session_scope(engine) as session:
        row = ModelVersion(kind=kind, path=str(path), config=config, metrics=metrics or {},
                           is_active=False)
        session.add(row)
        session.flush()
        if activate:
            _activate(session, row)
        session.flush()
        return ModelVersionInfo.of(row)


def activate_model_version(engine: Engine, version_id: int,
                           check: Callable[[ModelVersionInfo], object] | None = None
                           ) -> ModelVersionInfo:
    """Make ``version_id`` the active version of its kind (atomically).

    ``check`` (e.g. load and test the model) runs inside the transaction, before
    the switch: if it raises, nothing changes and the error propagates.
    """
    with session_scope(engine) as session:
        row = session.get(ModelVersion, version_id)
        if row is None:
            raise LookupError(f"no model version {version_id}")
        if check is not None:
            check(ModelVersionInfo.of(row))
        _activate(session, row)
        session.flush()
        return ModelVersionInfo.of(row)


def active_model_version(engine: Engine, kind: str) -> ModelVersionInfo | None:
    with session_scope(engine) as session:
        row = session.scalars(select(ModelVersion).where(
            ModelVersion.kind == kind, ModelVersion.is_active)).one_or_none()
        return ModelVersionInfo.of(row) if row else None


def list_model_versions(engine: Engine, kind: str | None = None) -> list[ModelVersionInfo]:
    """Versions newest first."""
    with session_scope(engine) as session:
        query = select(ModelVersion).order_by(ModelVersion.id.desc())
        if kind is not None:
            query = query.where(ModelVersion.kind == kind)
        return [ModelVersionInfo.of(row) for row in session.scalars(query)]


def _activate(session, row: ModelVersion) -> None:  # type: ignore[no-untyped-def]
    # Deactivate first and flush, so the partial unique index never sees two.
    session.execute(update(ModelVersion).where(ModelVersion.kind == row.kind,
                                               ModelVersion.is_active)
                    .values(is_active=False))
    session.flush()
    row.is_active = True
