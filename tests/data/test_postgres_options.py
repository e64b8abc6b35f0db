"""PostgreSQL sessions carry the bounds that end work orphaned by a killed client."""

from __future__ import annotations

from sqlalchemy import Engine, text

from pigen.data.database import make_engine
from pigen.data.postgres_options import PostgresOptions
from pigen.data.settings import StoreSettings
from tests.conftest import POSTGRES_URL, require_postgres


def show(engine: Engine, name: str) -> str:
    with engine.connect() as connection:
        return str(connection.execute(text(f"SHOW {name}")).scalar_one())


def test_default_bounds_reach_every_connection(postgres_engine: Engine) -> None:
    assert show(postgres_engine, "statement_timeout") == "10min"
    assert show(postgres_engine, "idle_in_transaction_session_timeout") == "1min"
    assert show(postgres_engine, "tcp_keepalives_idle") in {"30", "0"}  # 0: a unix socket
    version = int(show(postgres_engine, "server_version_num"))
    if version >= 140000:
        assert show(postgres_engine, "client_connection_check_interval") == "5s"


def test_settings_choose_the_bounds(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    require_postgres()
    monkeypatch.setenv("PIGEN_POSTGRES_STATEMENT_TIMEOUT_S", "2.5")
    monkeypatch.setenv("PIGEN_POSTGRES_IDLE_IN_TRANSACTION_TIMEOUT_S", "7")
    options = StoreSettings(_env_file=None).engine_options  # type: ignore[call-arg]
    assert options == PostgresOptions(statement_timeout_s=2.5, idle_in_transaction_timeout_s=7)
    engine = make_engine(POSTGRES_URL, options)
    try:
        assert show(engine, "statement_timeout") == "2500ms"
        assert show(engine, "idle_in_transaction_session_timeout") == "7s"
        # The bound holds after the pool hands the connection out again.
        assert show(engine, "statement_timeout") == "2500ms"
    finally:
        engine.dispose()


def test_connections_have_a_connect_timeout_and_a_pool_wait_bound(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    require_postgres()
    monkeypatch.setenv("PIGEN_POSTGRES_CONNECT_TIMEOUT_S", "7")
    monkeypatch.setenv("PIGEN_POSTGRES_POOL_TIMEOUT_S", "3")
    options = StoreSettings(_env_file=None).engine_options  # type: ignore[call-arg]
    engine = make_engine(POSTGRES_URL, options)
    try:
        with engine.connect() as connection:
            dbapi = connection.connection.dbapi_connection
            assert dbapi is not None
            # What libpq was given, read back from the live connection.
            assert dbapi.info.get_parameters()["connect_timeout"] == "7"
        assert engine.pool.timeout() == 3
    finally:
        engine.dispose()


def test_sqlite_writers_wait_for_a_lock_for_a_bounded_time(sqlite_engine: Engine) -> None:
    # SQLite has no statement timeout; its bound is the busy timeout (ms).
    assert show_pragma(sqlite_engine, "busy_timeout") == 30000


def show_pragma(engine: Engine, name: str) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text(f"PRAGMA {name}")).scalar_one())


def test_rating_range_must_be_ordered(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import pytest
    from pydantic import ValidationError

    monkeypatch.setenv("PIGEN_RATING_MIN", "5")
    monkeypatch.setenv("PIGEN_RATING_MAX", "1")
    with pytest.raises(ValidationError, match="rating_min"):
        StoreSettings(_env_file=None)  # type: ignore[call-arg]


def test_work_of_a_killed_client_ends(postgres_engine: Engine) -> None:
    """kill -9 mid-statement: the server cancels the orphaned query within seconds."""
    import signal
    import subprocess
    import sys
    import time
    import uuid

    import pytest

    if int(show(postgres_engine, "server_version_num")) < 140000:
        pytest.skip("client_connection_check_interval needs PostgreSQL 14+")
    name = f"pigen-orphan-{uuid.uuid4().hex[:8]}"
    separator = "&" if "?" in POSTGRES_URL else "?"
    url = f"{POSTGRES_URL}{separator}application_name={name}"
    code = ("from sqlalchemy import text; from pigen.data.database import make_engine; "
            "from pigen.data.postgres_options import PostgresOptions; "
            f"e = make_engine({url!r}, PostgresOptions(client_check_s=0.5)); "
            "c = e.connect(); print('ready', flush=True); "
            "c.execute(text('SELECT pg_sleep(120)'))")
    client = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)

    def running() -> int:
        with postgres_engine.connect() as connection:
            return int(connection.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = :n "
                "AND state = 'active'"), {"n": name}).scalar_one())

    try:
        assert client.stdout is not None and client.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 10
        while running() == 0 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert running() == 1
    finally:
        client.send_signal(signal.SIGKILL)
        client.wait()
    deadline = time.monotonic() + 10
    while running() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert running() == 0
