"""Engines and sessions for SQLite (embedded default) and PostgreSQL.

SQLite gets WAL (readers never block the writer) and foreign keys (off by default
in SQLite) on every connection. PostgreSQL connections get server-side bounds,
so work orphaned by a killed client (kill -9 mid-ingest) ends by itself instead
of holding the interactions table lock.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from pigen.data.postgres_options import PostgresOptions


def make_engine(url: str, postgres: PostgresOptions | None = None) -> Engine:
    """Create an engine for ``url``; SQLite parent folders are created on demand.

    ``postgres`` bounds PostgreSQL sessions (defaults when None); SQLite ignores it.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # timeout: the busy timeout, how long a writer waits for another's lock (30 s)
        # before "database is locked"; SQLite has no statement timeout.
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.get_backend_name() == "postgresql":
        options = postgres or PostgresOptions()
        engine = create_engine(url, pool_pre_ping=True, connect_args=options.connect_args(),
                               pool_timeout=options.pool_timeout_s)
        event.listen(engine, "connect", lambda connection, _record: _postgres_session(
            connection, options))
        return engine
    raise ValueError(f"unsupported database backend {parsed.get_backend_name()!r}")


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # WAL + NORMAL is durable across application crashes (not power loss) and
    # much faster for bulk ingest than FULL.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _postgres_session(dbapi_connection, options: PostgresOptions) -> None:  # type: ignore[no-untyped-def]
    settings = options.session_settings(dbapi_connection.info.server_version)
    with dbapi_connection.cursor() as cursor:
        for name, value in settings.items():
            # set_config() takes the value as a parameter; SET cannot.
            cursor.execute("SELECT set_config(%s, %s, false)", (name, value))
    dbapi_connection.commit()  # session settings outlive this first transaction


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    factory = sessionmaker(engine, expire_on_commit=False)
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
