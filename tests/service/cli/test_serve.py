"""``pigen apikey`` and ``pigen demo --check`` end to end on a SQLite file under tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from pigen.service.cli import app

runner = CliRunner()


pytestmark = pytest.mark.usefixtures("cli_settings")


def test_apikey_create_list_revoke() -> None:
    from pigen.service.auth import verify_api_key
    from pigen.service.cli.common import open_database

    created = runner.invoke(app, ["apikey", "create", "--scope", "write", "--name", "shop"])
    assert created.exit_code == 0, created.output
    key = created.stdout.strip().splitlines()[0]
    assert key.startswith("pgk_")
    assert verify_api_key(open_database(), key).scope == "write"
    prefix = key.split("_")[1]
    listed = runner.invoke(app, ["apikey", "list"]).output
    assert prefix in listed and "write" in listed and "shop" in listed and key not in listed
    assert runner.invoke(app, ["apikey", "revoke", prefix]).exit_code == 0
    assert "revoked" in runner.invoke(app, ["apikey", "list"]).output
    assert runner.invoke(app, ["apikey", "revoke", prefix]).exit_code == 1
    assert runner.invoke(app, ["apikey", "create", "--scope", "root"]).exit_code == 2
    assert verify_api_key(open_database(), key) is None


def test_apikey_revoke_takes_the_id_that_list_shows() -> None:
    from pigen.service.auth import verify_api_key
    from pigen.service.cli.common import open_database

    key = runner.invoke(app, ["apikey", "create", "--scope", "write"]).stdout.splitlines()[0]
    listed = runner.invoke(app, ["apikey", "list"]).output.splitlines()
    assert listed[0].split()[:2] == ["ID", "PREFIX"]
    key_id, prefix = listed[1].split()[:2]
    assert prefix == key.split("_")[1]
    revoked = runner.invoke(app, ["apikey", "revoke", key_id])
    assert revoked.exit_code == 0, revoked.output
    assert verify_api_key(open_database(), key) is None
    assert "revoked" in runner.invoke(app, ["apikey", "list"]).output.splitlines()[1]
    unknown = runner.invoke(app, ["apikey", "revoke", "4242"])
    assert unknown.exit_code == 1 and "no active key" in unknown.output
    malformed = runner.invoke(app, ["apikey", "revoke", "my-key"])
    assert malformed.exit_code == 2 and "not a key id" in malformed.output


def test_demo_starts_reuse_one_page_key() -> None:
    from pigen.service.auth import list_api_keys, verify_api_key
    from pigen.service.cli.common import open_database
    from pigen.service.cli.serve import DEMO_KEY_NAME, demo_page_key

    engine = open_database()
    keys = [demo_page_key(engine) for _ in range(3)]  # three starts
    demo = [k for k in list_api_keys(engine) if k.name == DEMO_KEY_NAME]
    assert len(demo) == 1 and not demo[0].revoked
    assert [verify_api_key(engine, k) is not None for k in keys] == [False, False, True]


def test_help_lists_the_service_commands() -> None:
    output = runner.invoke(app, ["--help"]).output
    assert "serve" in output and "demo" in output and "apikey" in output


@pytest.mark.slow
def test_demo_check_builds_trains_serves_and_exits(tmp_path: Path) -> None:
    from tests.service.api.conftest import tiny_generator

    weights = tiny_generator(tmp_path / "g.safetensors")
    args = ["demo", "--check", "--items", "60", "--shoppers", "40", "--ratings-per-shopper",
            "10", "--generator", str(weights)]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "demo storefront OK" in first.output and "PNG" in first.output
    assert "check: campaign worker running" in first.output  # `pigen worker` beside it
    assert "taste model version 1 trained" in first.output
    assert "ranking model version 2 trained" in first.output  # the demo trains both
    second = runner.invoke(app, args)  # everything exists now: nothing rebuilt
    assert second.exit_code == 0, second.output
    assert "already there" in second.output and "(ALS) version 1 active" in second.output
    assert "ranking model version 2 active" in second.output
