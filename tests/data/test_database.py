"""Schema, migrations and engine settings on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, inspect, text, update
from sqlalchemy.exc import IntegrityError

from pigen.data.database import session_scope
from pigen.data.migrate import current_revision, head_revision, upgrade_database
from pigen.data.schema import ModelVersion


def test_migrations_reach_head_and_are_idempotent(engine: Engine) -> None:
    assert current_revision(engine) == head_revision()
    assert upgrade_database(engine) == head_revision()
    tables = set(inspect(engine).get_table_names())
    assert {"users", "items", "interactions", "model_versions", "generated_images"} <= tables


def test_sqlite_runs_with_wal_and_foreign_keys(sqlite_engine: Engine) -> None:
    with sqlite_engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_interaction_needs_existing_user_and_item(engine: Engine) -> None:
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO interactions (user_id, item_id, kind, value, occurred_at) "
            "VALUES (999, 999, 'rating', 1.0, 0)"))


def test_only_one_active_model_version_per_kind(engine: Engine) -> None:
    with session_scope(engine) as session:
        session.add_all([ModelVersion(kind="als", path="a.npz", is_active=True),
                         ModelVersion(kind="als", path="b.npz", is_active=False),
                         ModelVersion(kind="generator", path="g.pt", is_active=True)])
    with pytest.raises(IntegrityError), session_scope(engine) as session:
        session.execute(update(ModelVersion).where(ModelVersion.path == "b.npz")
                        .values(is_active=True))
    with session_scope(engine) as session:
        active = session.query(ModelVersion).filter_by(kind="als", is_active=True).one()
        assert active.path == "a.npz"


def test_migrations_match_the_models(engine: Engine) -> None:
    """Autogenerate finds nothing to do: the migration scripts and schema.py agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from pigen.data.schema import Base

    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
