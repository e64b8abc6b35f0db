"""A small served store for API tests: catalog, ratings, a trained ALS, a random generator.

Every test that uses the store runs on SQLite and on PostgreSQL. Each backend's
store is built once per session and copied per test, so each test gets a fresh
database in milliseconds: a file copy on SQLite, ``CREATE DATABASE ... TEMPLATE``
on PostgreSQL. ``store_on`` builds one on any engine.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, make_url, text

from pigen.data.database import make_engine
from pigen.service.settings import Settings

CATEGORIES = ["T-shirt/top", "Trouser", "Dress", "Bag", "Sneaker", "Coat"]
COLOURS = ["#c0392b", "#2471a3", "#1e8449", "#f1c40f"]
PATTERNS = ["solid", "striped", "checked", "dotted"]
N_ITEMS, N_USERS = 24, 30


def catalog_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "item_id": [f"item-{k:03d}" for k in range(N_ITEMS)],
        "category": [CATEGORIES[k % len(CATEGORIES)] for k in range(N_ITEMS)],
        "colour": [COLOURS[k % len(COLOURS)] for k in range(N_ITEMS)],
        "pattern": [PATTERNS[(k // 2) % len(PATTERNS)] for k in range(N_ITEMS)],
    })


def ratings_frame(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(N_USERS):
        # Each shopper favours one category: a structure ALS can find.
        liked = u % len(CATEGORIES)
        items = rng.choice(N_ITEMS, size=8, replace=False)
        for t, k in enumerate(items):
            stars = 5 if k % len(CATEGORIES) == liked else int(rng.integers(1, 4))
            rows.append((f"shopper-{u:03d}", f"item-{k:03d}", float(stars),
                         1_700_000_000 + 3600 * u + t))
    return pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])


def tiny_generator(path: Path) -> Path:
    from pigen.data.conditions import ConditionLayout
    from pigen.generator.checkpoint import save_generator
    from pigen.generator.config import GeneratorConfig
    from pigen.generator.models import build_generator

    layout = ConditionLayout.builtin()
    import torch

    torch.manual_seed(0)
    model = build_generator(GeneratorConfig.tiny(), layout).eval()
    return save_generator(model, layout, path)


def store_on(engine: Engine, models_dir: Path, generator: Path) -> Engine:
    """Fill a migrated engine: catalog, ratings, an active ALS and generator version."""
    from pigen.data.ingest import ingest_catalog_frame, ingest_ratings_frame
    from pigen.recsys.config import ALSConfig
    from pigen.service.generator_serving import ensure_generator_version
    from pigen.service.recsys_serving import train_and_register

    ingest_catalog_frame(engine, catalog_frame())
    ingest_ratings_frame(engine, ratings_frame())
    train_and_register(engine, models_dir, ALSConfig(factors=8, iterations=5, regularization=0.1))
    ensure_generator_version(engine, generator)
    return engine


@dataclass(frozen=True)
class StoreTemplate:
    database: Path
    models_dir: Path
    generator: Path


@pytest.fixture(scope="session")
def store_template(tmp_path_factory: pytest.TempPathFactory) -> StoreTemplate:
    from tests.conftest import sqlite_engine_at

    root = tmp_path_factory.mktemp("store")
    generator = tiny_generator(root / "generator.safetensors")
    engine = sqlite_engine_at(root / "pigen.db")
    store_on(engine, root / "models", generator)
    engine.dispose()
    return StoreTemplate(root / "pigen.db", root / "models", generator)


def api_settings(tmp_path: Path, database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "storage_dir": tmp_path / "var", "database_url": database_url,
        "model_refresh_seconds": 0, "batch_max_wait_ms": 2.0, "device": "cpu",
        "generator_threads": 1, "api_keys": [],
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture(scope="session")
def postgres_store_template(store_template: StoreTemplate) -> Iterator[str]:
    """The URL of a PostgreSQL database holding the store; tests copy it, never use it."""
    from pigen.data.migrate import upgrade_database
    from tests.conftest import require_postgres

    require_postgres()
    url = _create_database(f"pigen_api_template_{uuid.uuid4().hex[:12]}")
    engine = make_engine(url)
    try:
        upgrade_database(engine)
        store_on(engine, store_template.models_dir.with_name("models-postgres"),
                 store_template.generator)
    finally:
        engine.dispose()  # CREATE DATABASE ... TEMPLATE needs it unused
    yield url
    _drop_database(make_url(url).database or "")


def _admin() -> Engine:
    from tests.conftest import POSTGRES_URL

    return create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")


def _create_database(name: str, template: str | None = None) -> str:
    admin = _admin()
    with admin.connect() as connection:
        copy = f' TEMPLATE "{template}"' if template else ""
        connection.execute(text(f'CREATE DATABASE "{name}"{copy}'))
    admin.dispose()
    return make_url(admin.url).set(database=name).render_as_string(hide_password=False)


def _drop_database(name: str) -> None:
    admin = _admin()
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_backend(request: pytest.FixtureRequest) -> str:
    """The database the test's store lives on: every store test runs on both."""
    return str(request.param)


@pytest.fixture
def store_engine(store_backend: str, store_template: StoreTemplate, tmp_path: Path,
                 request: pytest.FixtureRequest) -> Iterator[Engine]:
    """A private copy of the template store, on ``store_backend``."""
    if store_backend == "sqlite":
        target = tmp_path / "store.db"  # not pigen.db: sqlite_engine makes that one
        shutil.copyfile(store_template.database, target)
        engine = make_engine(f"sqlite:///{target}")
        yield engine
        engine.dispose()
        return
    template = make_url(request.getfixturevalue("postgres_store_template")).database
    name = f"pigen_api_{uuid.uuid4().hex[:12]}"
    engine = make_engine(_create_database(name, template))
    try:
        yield engine
    finally:
        engine.dispose()
        _drop_database(name)


@pytest.fixture
def make_client(store_engine: Engine, tmp_path: Path) -> Iterator:
    """``make_client(**settings)`` -> a started TestClient over the copied store."""
    clients: list[TestClient] = []

    def make(engine: Engine | None = None, **overrides: object) -> TestClient:
        from pigen.service.app import create_app

        used = engine or store_engine
        settings = api_settings(tmp_path, str(used.url), **overrides)
        client = TestClient(create_app(settings, engine=used))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client) -> TestClient:  # type: ignore[no-untyped-def]
    return make_client()


def app_of(client: TestClient) -> FastAPI:
    return client.app  # type: ignore[return-value]
