"""``pigen recsys tune`` and ``evaluate`` with the protocol flags, on a small demo store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pigen.service.cli import app

runner = CliRunner()

pytestmark = pytest.mark.usefixtures("cli_settings")


def test_bad_split_spellings_exit_2_before_reading_anything() -> None:
    for split in ("last-n:0", "last-n", "time:3"):
        result = runner.invoke(app, ["recsys", "tune", "--split", split])
        assert result.exit_code == 2 and "split" in result.output
    assert runner.invoke(app, ["recsys", "evaluate", "--min-ratings", "-1"]).exit_code == 2
    assert runner.invoke(app, ["recsys", "tune", "--folds", "0"]).exit_code == 2


@pytest.mark.slow
def test_tune_last_n_liked_only_then_train_and_evaluate_on_a_test_file(tmp_path: Path) -> None:
    demo = ["demo-data", "--items", "60", "--shoppers", "80", "--ratings-per-shopper", "12"]
    assert runner.invoke(app, demo).exit_code == 0
    tuned = runner.invoke(app, ["recsys", "tune", "--split", "last-n:3", "--min-ratings", "6",
                                "--relevant-from", "4", "--k", "5", "--trials", "3",
                                "--folds", "2"])
    assert tuned.exit_code == 0, tuned.output
    written = tmp_path / "var" / "models" / "als_tuned.json"
    best = json.loads(written.read_text())
    assert best["metric"] == "ndcg@5" and best["split"] == "last-n:3"
    assert best["relevant_from"] == 4
    if best["config"]["value_mapping"] == "binary":
        assert best["config"]["binary_threshold"] == 4
    assert f"pigen recsys train --config {written}" in tuned.output
    trained = runner.invoke(app, ["recsys", "train", "--config", str(written)])
    assert trained.exit_code == 0, trained.output

    # A user-supplied test set: two rated pairs held out; an unknown item is exit 2.
    ratings = runner.invoke(app, ["recsys", "evaluate", "--json", "--split", "random"])
    assert ratings.exit_code == 0, ratings.output
    from pigen.data.ratings_matrix import read_interactions
    from pigen.service.cli import common

    frame = read_interactions(common.open_database()).to_frame()
    pairs = frame.groupby("user_id").head(2)[["user_id", "item_id"]]
    pairs.to_csv(tmp_path / "test.csv", index=False)
    evaluated = runner.invoke(app, ["recsys", "evaluate", "--json", "--k", "5",
                                    "--split-file", "test.csv", "--set", "factors=8"])
    assert evaluated.exit_code == 0, evaluated.output
    assert json.loads(evaluated.stdout)["als"]["ndcg@5"] >= 0
    (tmp_path / "bad.csv").write_text("user_id,item_id\nshopper-00001,no-such-item\n")
    bad = runner.invoke(app, ["recsys", "evaluate", "--split-file", "bad.csv"])
    assert bad.exit_code == 2 and "no-such-item" in bad.output


@pytest.mark.slow
def test_a_ratings_only_store_from_the_command_line(tmp_path: Path) -> None:
    lines = ["user_id,item_id,rating,timestamp"]
    for u in range(30):
        tribe = u % 2
        for k in range(6):
            lines.append(f"u{u},movie{tribe * 6 + (u + k) % 6},{4 + k % 2},{1000 * u + k}")
    (tmp_path / "ratings.csv").write_text("\n".join(lines) + "\n")
    refused = runner.invoke(app, ["ingest", "ratings", "ratings.csv"])
    assert refused.exit_code == 1 and "--create-items" in refused.output
    loaded = runner.invoke(app, ["ingest", "ratings", "ratings.csv", "--create-items"])
    assert loaded.exit_code == 0, loaded.output
    assert "12 new items without attributes" in loaded.output
    trained = runner.invoke(app, ["recsys", "train", "--set", "factors=4"])
    assert trained.exit_code == 0, trained.output
    evaluated = runner.invoke(app, ["recsys", "evaluate", "--json", "--split", "last-n:1",
                                    "--k", "3", "--set", "factors=4"])
    assert evaluated.exit_code == 0, evaluated.output
    tuned = runner.invoke(app, ["recsys", "tune", "--split", "last-n:1", "--trials", "2",
                                "--k", "3", "--output", "best.json"])
    assert tuned.exit_code == 0, tuned.output
    answer = runner.invoke(app, ["recsys", "recommend", "u0", "--n", "2"])
    assert answer.exit_code == 0 and "movie" in answer.output
