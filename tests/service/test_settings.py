"""Service settings fail fast and normalise what they can, whatever the environment holds."""

from __future__ import annotations

import os
import subprocess
import sys
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


def test_other_tools_keys_in_a_dotenv_file_are_ignored(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("SECRET_KEY=abc\nDATABASE_URL=mysql://elsewhere\nPIGEN_BATCH_MAX_SIZE=8\n")
    settings = Settings(_env_file=env_file)  # type: ignore[call-arg]
    assert settings.batch_max_size == 8
    assert settings.database_url is None  # DATABASE_URL is another tool's, not PIGEN_'s


def test_an_unknown_pigen_key_is_named_with_the_likely_one(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("SECRET_KEY=abc\nPIGEN_BATCH_MAX_SIZ=9\n")
    with pytest.raises(ValidationError, match=r"unknown setting PIGEN_BATCH_MAX_SIZ \(did "
                                              r"you mean PIGEN_BATCH_MAX_SIZE\?\)"):
        Settings(_env_file=env_file)  # type: ignore[call-arg]


def test_a_command_runs_beside_another_tools_dotenv(tmp_path: Path) -> None:
    """The real CLI in a folder whose .env holds a foreign key: it runs (it used to exit 2)."""
    (tmp_path / ".env").write_text(f"SECRET_KEY=abc\nPIGEN_STORAGE_DIR={tmp_path / 'var'}\n")
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PIGEN_")}
    command = [sys.executable, "-m", "pigen.service.cli", "apikey", "list"]
    ran = subprocess.run(command, cwd=tmp_path, env=environment, capture_output=True,
                         text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    assert (tmp_path / "var" / "pigen.db").is_file()  # the .env's PIGEN_ key was used
    (tmp_path / ".env").write_text("SECRET_KEY=abc\nPIGEN_STORAGE_DIRR=x\n")
    refused = subprocess.run(command, cwd=tmp_path, env=environment, capture_output=True,
                             text=True, timeout=120)
    assert refused.returncode == 2
    assert "unknown setting PIGEN_STORAGE_DIRR (did you mean PIGEN_STORAGE_DIR?)" in (
        refused.stderr + refused.stdout)
