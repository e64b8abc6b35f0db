"""``pigen models list | activate KIND ID`` on a copy of the API test store."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from pigen.data.database import make_engine
from pigen.data.model_registry import active_model_version, register_model_version
from pigen.service.cli import app
from pigen.service.generator_serving import ensure_generator_version
from tests.service.api.conftest import StoreTemplate, store_template, tiny_generator

__all__ = ["store_template"]  # the session fixture, shared with the API tests

runner = CliRunner()


@pytest.fixture
def store(cli_settings: Path, store_template: StoreTemplate) -> Engine:
    """The CLI's own database: a copy of the store (one ALS, one generator version)."""
    target = cli_settings / "var" / "pigen.db"
    target.parent.mkdir(parents=True)
    shutil.copyfile(store_template.database, target)
    return make_engine(f"sqlite:///{target}")


def test_list_shows_every_kind_and_marks_the_active(store: Engine) -> None:
    result = runner.invoke(app, ["models", "list"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any(line.startswith("*") and " als " in line for line in lines)
    assert any(line.startswith("*") and " generator " in line for line in lines)
    only = runner.invoke(app, ["models", "list", "--kind", "als"]).output
    assert "generator" not in only and " als " in only


def test_activate_a_generator_version(store: Engine, tmp_path: Path) -> None:
    new = ensure_generator_version(store, tiny_generator(tmp_path / "g2.safetensors"))
    old = active_model_version(store, "generator")
    assert old is not None and old.id != new.id
    result = runner.invoke(app, ["models", "activate", "generator", str(new.id)])
    assert result.exit_code == 0, result.output
    assert active_model_version(store, "generator").id == new.id  # type: ignore[union-attr]
    back = runner.invoke(app, ["models", "activate", "generator", str(old.id)])
    assert back.exit_code == 0 and f"generator version {old.id} is active" in back.output


def test_activate_refuses_a_broken_file_and_changes_nothing(store: Engine,
                                                             tmp_path: Path) -> None:
    good = active_model_version(store, "als")
    assert good is not None
    path = tmp_path / "als-truncated.npz"
    path.write_bytes(good.path.read_bytes()[:300])
    bad = register_model_version(store, "als", path, good.config, good.metrics, activate=False)
    result = runner.invoke(app, ["models", "activate", "als", str(bad.id)])
    assert result.exit_code == 1
    assert "truncated" in result.output and "nothing changed" in result.output
    assert active_model_version(store, "als").id == good.id  # type: ignore[union-attr]


def test_activate_checks_kind_and_id(store: Engine) -> None:
    als = active_model_version(store, "als")
    assert als is not None
    wrong_kind = runner.invoke(app, ["models", "activate", "generator", str(als.id)])
    assert wrong_kind.exit_code == 1 and f"no generator version {als.id}" in wrong_kind.output
    unknown = runner.invoke(app, ["models", "activate", "judge", "1"])
    assert unknown.exit_code == 1 and "als, ranking, generator" in unknown.output
