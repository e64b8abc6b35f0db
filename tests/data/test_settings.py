"""Store settings fail fast and normalise what they can, whatever the environment holds."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from pigen.data.settings import StoreSettings


@pytest.fixture(autouse=True)
def bare_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No PIGEN_* variable from the shell running the tests leaks in."""
    for name in StoreSettings.model_fields:
        monkeypatch.delenv(f"PIGEN_{name.upper()}", raising=False)


def test_defaults_use_embedded_sqlite() -> None:
    settings = StoreSettings(_env_file=None)  # type: ignore[call-arg]
    assert settings.resolved_database_url == "sqlite:///var/pigen.db"
    assert settings.models_dir == Path("var/models")
    assert settings.catalog_dir == Path("var/catalog")


def test_environment_is_parsed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PIGEN_STORAGE_DIR", str(tmp_path))
    monkeypatch.setenv("PIGEN_DATABASE_URL", "postgresql://me@db/pigen")
    settings = StoreSettings(_env_file=None)  # type: ignore[call-arg]
    assert settings.storage_dir == tmp_path
    assert settings.resolved_database_url == "postgresql+psycopg://me@db/pigen"


def test_unknown_dialect_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIGEN_DATABASE_URL", "mysql://x")
    with pytest.raises(ValidationError):
        StoreSettings(_env_file=None)  # type: ignore[call-arg]


def test_service_keys_in_a_dotenv_file_are_not_the_stores_business(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("PIGEN_STORAGE_DIR=/srv/pigen\nPIGEN_BATCH_MAX_SIZE=8\n")
    settings = StoreSettings(_env_file=env_file)  # type: ignore[call-arg]
    assert settings.storage_dir == Path("/srv/pigen")
