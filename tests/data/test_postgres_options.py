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


def test_rating_range_must_be_ordered(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import pytest
    from pydantic import ValidationError

    monkeypatch.setenv("PIGEN_RATING_MIN", "5")
    monkeypatch.setenv("PIGEN_RATING_MAX", "1")
    with pytest.raises(ValidationError, match="rating_min"):
        StoreSettings(_env_file=None)  # type: ignore[call-arg]
