"""Service settings fail fast and normalise what they can, whatever the environment holds."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from pigen.service.settings import Settings


@pytest.fixture(autouse=True)
def bare_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No PIGEN_* variable from the shell running the tests leaks in."""
    for name in Settings.model_fields:
        monkeypatch.delenv(f"PIGEN_{name.upper()}", raising=False)


def test_defaults() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.resolved_database_url == "sqlite:///var/pigen.db"
    assert settings.images_dir == Path("var/images")
    assert settings.api_keys == [] and settings.cors_origins == []
    assert settings.device == "auto" and settings.require_read_key is False


def test_environment_is_parsed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PIGEN_STORAGE_DIR", str(tmp_path))
    monkeypatch.setenv("PIGEN_API_KEYS", "k1, k2,")
    monkeypatch.setenv("PIGEN_CORS_ORIGINS", "https://shop.example")
    monkeypatch.setenv("PIGEN_DATABASE_URL", "postgresql://me@db/pigen")
    monkeypatch.setenv("PIGEN_DEVICE", "cpu")
    monkeypatch.setenv("PIGEN_BATCH_MAX_SIZE", "8")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.api_keys == ["k1", "k2"]
    assert settings.cors_origins == ["https://shop.example"]
    assert settings.resolved_database_url == "postgresql+psycopg://me@db/pigen"
    assert settings.images_dir == tmp_path / "images"
    assert (settings.device, settings.batch_max_size) == ("cpu", 8)


@pytest.mark.parametrize(("name", "value"), [("PIGEN_DATABASE_URL", "mysql://x"),
                                             ("PIGEN_DEVICE", "tpu"),
                                             ("PIGEN_BATCH_MAX_SIZE", "0")])
def test_bad_values_are_rejected(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        Settings(_env_file=None)  # type: ignore[call-arg]


def test_unknown_keys_in_a_dotenv_file_are_rejected(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("PIGEN_BATCH_MAX_SIZE=8\nPIGEN_BATCH_MAX_SIZ=9\n")
    with pytest.raises(ValidationError):
        Settings(_env_file=env_file)  # type: ignore[call-arg]
