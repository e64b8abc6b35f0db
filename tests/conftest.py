"""Suite-wide set-up: quiet torch threads, and one fresh database per test.

The ``engine`` fixture runs a test twice: on SQLite and on the PostgreSQL server
(``PIGEN_TEST_POSTGRES_URL``, default the local ``test`` database), each in its
own file or schema. Under ``CI=true`` an unreachable PostgreSQL fails the run
instead of skipping.
"""

import os

# Must happen before torch is imported anywhere: on shared 2-core machines the
# default ACTIVE policy spins threads and runs several times slower.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import uuid  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from functools import cache  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from sqlalchemy import Engine, create_engine, text  # noqa: E402

POSTGRES_URL = os.environ.get(
    "PIGEN_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@cache
def postgres_error() -> str | None:
    """None when the PostgreSQL test server answers, else why not."""
    try:
        engine = create_engine(POSTGRES_URL)
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as error:  # any driver/network failure means "not available"
        return f"{type(error).__name__}: {error}"


def require_postgres() -> None:
    error = postgres_error()
    if error is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"PostgreSQL must be reachable in CI ({POSTGRES_URL}): {error}")
    pytest.skip(f"PostgreSQL not reachable: {error}")


def sqlite_engine_at(path: Path) -> Engine:
    from pigen.data.database import make_engine
    from pigen.data.migrate import upgrade_database

    engine = make_engine(f"sqlite:///{path}")
    upgrade_database(engine)
    return engine


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = sqlite_engine_at(tmp_path / "pigen.db")
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_engine() -> Iterator[Engine]:
    """A migrated PostgreSQL engine confined to a throw-away schema."""
    require_postgres()
    from pigen.data.database import make_engine
    from pigen.data.migrate import upgrade_database

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in POSTGRES_URL else "?"
    engine = make_engine(f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}")
    try:
        upgrade_database(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> Engine:
    """Each test using this runs on SQLite and on PostgreSQL."""
    return request.getfixturevalue(f"{request.param}_engine")


@pytest.fixture
def cli_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """``pigen`` commands run against a fresh store under ``tmp_path`` (cwd there too)."""
    from pigen.service.settings import get_settings

    monkeypatch.setenv("PIGEN_STORAGE_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("PIGEN_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()
