"""The ``pigen`` command line, end to end on a real SQLite file under tmp_path."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pigen.service.cli import app
from pigen.service.settings import get_settings

runner = CliRunner()


pytestmark = pytest.mark.usefixtures("cli_settings")


def test_help_is_light() -> None:
    """``pigen --help`` must not drag in pandas, torch or implicit."""
    code = ("import sys, pigen.service.cli as c; "
            "heavy = [m for m in ('pandas', 'torch', 'implicit', 'sqlalchemy', 'scipy', "
            "'matplotlib') if m in sys.modules]; print(heavy); sys.exit(bool(heavy))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    output = runner.invoke(app, ["--help"]).output
    assert "demo-data" in output and "experiment" in output


def test_db_upgrade_and_status(tmp_path: Path) -> None:
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    status = runner.invoke(app, ["db", "status"])
    assert status.exit_code == 0
    assert "interactions" in status.output
    assert (tmp_path / "var" / "pigen.db").exists()


def test_bad_settings_exit_2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIGEN_DATABASE_URL", "mysql://nope")
    get_settings.cache_clear()
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 2
    assert "unsupported database URL" in result.output


def test_ingest_commands_with_mapping_and_errors(tmp_path: Path) -> None:
    (tmp_path / "catalog.csv").write_text("sku,category\na,Dress\nb,Bag\n")
    (tmp_path / "ratings.csv").write_text("who,sku,stars\nu1,a,5\nu2,b,3\n")
    (tmp_path / "bad.csv").write_text("who,sku,stars\nu1,a,5\nu2,zzz,3\n")
    result = runner.invoke(app, ["ingest", "catalog", "catalog.csv", "-c", "item_id=sku"])
    assert result.exit_code == 0, result.output
    mapping = ["-c", "user_id=who", "-c", "item_id=sku", "-c", "rating=stars"]
    result = runner.invoke(app, ["ingest", "ratings", "ratings.csv", *mapping])
    assert result.exit_code == 0, result.output
    assert "2 inserted" in result.output
    again = runner.invoke(app, ["ingest", "ratings", "ratings.csv", *mapping])
    assert "0 inserted, 2 already present" in again.output
    bad = runner.invoke(app, ["ingest", "ratings", "bad.csv", *mapping])
    assert bad.exit_code == 1
    assert "line 3, column 'item_id': unknown item 'zzz'" in bad.output
    status = runner.invoke(app, ["db", "status"]).output
    assert "interactions                  2" in status


@pytest.mark.slow
def test_demo_data_builds_and_is_idempotent(tmp_path: Path) -> None:
    args = ["demo-data", "--items", "60", "--shoppers", "40", "--ratings-per-shopper", "10"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "60 items in 10 categories" in first.output
    assert (tmp_path / "var" / "catalog" / "images" / "item-00001.png").exists()
    assert (tmp_path / "var" / "demo" / "tastes.jsonl").exists()
    second = runner.invoke(app, args)
    assert "0 inserted" in second.output and "60 already present" in second.output


@pytest.mark.slow
def test_recsys_commands_on_the_demo_store(tmp_path: Path) -> None:
    import json

    demo = ["demo-data", "--items", "100", "--shoppers", "200", "--ratings-per-shopper", "15"]
    assert runner.invoke(app, demo).exit_code == 0
    trained = runner.invoke(app, ["recsys", "train", "--set", "factors=8",
                                  "--set", "iterations=5"])
    assert trained.exit_code == 0, trained.output
    assert "model version 1 active" in trained.output
    evaluated = runner.invoke(app, ["recsys", "evaluate", "--json", "--set", "factors=8"])
    assert evaluated.exit_code == 0, evaluated.output
    results = json.loads(evaluated.stdout)
    assert set(results) == {"als", "popularity"}
    assert 0.0 <= results["als"]["ndcg@10"] <= 1.0 and "precision@10" in results["popularity"]
    answer = runner.invoke(app, ["recsys", "recommend", "shopper-00001", "--n", "3", "--explain"])
    assert answer.exit_code == 0 and "factor from model" in answer.output
    assert answer.output.count("because") == 3
    tuned = runner.invoke(app, ["recsys", "tune", "--mode", "random", "--trials", "2",
                                "--output", "best.json"])
    assert tuned.exit_code == 0, tuned.output
    retrained = runner.invoke(app, ["recsys", "train", "--config", "best.json"])
    assert retrained.exit_code == 0 and "model version 2 active" in retrained.output
    # Images need the taste model: none yet, then one beside the two ranking versions.
    no_taste = runner.invoke(app, ["recsys", "taste", "shopper-00002"])
    assert no_taste.exit_code == 1 and "--purpose taste" in no_taste.output
    taste_trained = runner.invoke(app, ["recsys", "train", "--purpose", "taste",
                                        "--set", "factors=8", "--set", "iterations=5"])
    assert "taste model version 3 active" in taste_trained.output, taste_trained.output
    rolled = runner.invoke(app, ["recsys", "activate", "1"])
    assert rolled.exit_code == 0 and "ranking version 1 is active" in rolled.output
    listing = runner.invoke(app, ["recsys", "versions"]).output.splitlines()
    assert [line.split()[:3] for line in listing] == [
        ["*", "3", "taste"], ["2", "ranking", "als"], ["*", "1", "ranking"]]
    assert runner.invoke(app, ["recsys", "activate", "99"]).exit_code == 1
    popular = runner.invoke(app, ["recsys", "train", "--model", "popularity"])
    assert "ranking model version 4 active" in popular.output, popular.output
    answer = runner.invoke(app, ["recsys", "recommend", "shopper-00001", "--n", "2"])
    assert answer.exit_code == 0 and "model version 4" in answer.output
    assert runner.invoke(app, ["recsys", "train", "--purpose", "taste", "--model",
                               "popularity"]).exit_code == 1
    assert runner.invoke(app, ["recsys", "train", "--model", "popularity", "--set",
                               "factors=2"]).exit_code == 2
    assert runner.invoke(app, ["recsys", "train", "--purpose", "images"]).exit_code == 2
    taste = runner.invoke(app, ["recsys", "taste", "shopper-00002", "--n", "4", "--json"])
    assert taste.exit_code == 0, taste.output
    profile = json.loads(taste.stdout)
    assert profile["source"] == "model" and len(profile["samples"]) == 4
    assert abs(sum(profile["profile"]["category"].values()) - 1) < 1e-6


def test_recsys_rejects_bad_options() -> None:
    assert runner.invoke(app, ["recsys", "train", "--set", "factorz=3"]).exit_code == 2
    assert runner.invoke(app, ["recsys", "evaluate", "--split", "sideways"]).exit_code == 2
    assert runner.invoke(app, ["recsys", "recommend", "u1", "--n", "0"]).exit_code == 2
    assert runner.invoke(app, ["recsys", "evaluate", "--k", "0"]).exit_code == 2
    result = runner.invoke(app, ["recsys", "recommend", "u1"])
    assert result.exit_code == 1 and "recsys train" in result.output
