"""Settings fail fast and normalise what they can."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from pigen.data.settings import Settings


def test_defaults_use_embedded_sqlite(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PIGEN_DATABASE_URL", raising=False)
    settings = Settings(_env_file=None)
    assert settings.resolved_database_url == "sqlite:///var/pigen.db"
    assert settings.models_dir == Path("var/models")


def test_environment_is_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIGEN_API_KEYS", "k1, k2,")
    monkeypatch.setenv("PIGEN_DATABASE_URL", "postgresql://me@db/pigen")
    monkeypatch.setenv("PIGEN_DEVICE", "cpu")
    settings = Settings(_env_file=None)
    assert settings.api_keys == ["k1", "k2"]
    assert settings.resolved_database_url == "postgresql+psycopg://me@db/pigen"


@pytest.mark.parametrize(("name", "value"), [("PIGEN_DATABASE_URL", "mysql://x"),
                                             ("PIGEN_DEVICE", "tpu")])
def test_bad_values_are_rejected(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        Settings(_env_file=None)
