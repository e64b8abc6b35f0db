"""``pigen experiment ...`` end to end on a SQLite file under tmp_path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pigen.service.cli import app

runner = CliRunner()


pytestmark = pytest.mark.usefixtures("cli_settings")


def test_create_start_report_stop(tmp_path: Path) -> None:
    created = runner.invoke(app, [
        "experiment", "create", "hero", "--variant", 'control=1:{"mode": "catalog"}',
        "--variant", "personalized=1", "--description", "photo vs generated"])
    assert created.exit_code == 0, created.output
    assert "control 50%, personalized 50%" in created.output
    assert runner.invoke(app, ["experiment", "create", "hero", "-v", "a=1", "-v", "b=1"]
                         ).exit_code == 1
    assert runner.invoke(app, ["experiment", "start", "hero"]).exit_code == 0

    from pigen.service.cli.common import open_database
    from pigen.service.experiments import store

    engine = open_database()
    info = store.get_experiment(engine, "hero")
    for k in range(30):
        user = f"u{k}"
        store.log_exposure(engine, info.id, user, info.design.variant_of(user).name)
        if k % 3 == 0:  # received now, after the exposure
            store.record_event(engine, store.NewEvent(f"e{k}", user, "purchase", value=10.0))
    table = runner.invoke(app, ["experiment", "report", "hero", "--plot", "hero.png"])
    assert table.exit_code == 0, table.output
    assert "sample ratio check" in table.output and (tmp_path / "hero.png").exists()
    as_json = runner.invoke(app, ["experiment", "report", "hero", "--json", "--cuped",
                                     "multi"])
    assert as_json.exit_code == 0, as_json.output
    results = json.loads(as_json.stdout)
    assert sum(a["conversions"] for a in results["arms"]) == 10
    assert Path(results["plot"]).exists()
    assert runner.invoke(app, ["experiment", "coverage", "hero", "0.5"]).exit_code == 0
    assert runner.invoke(app, ["experiment", "stop", "hero"]).exit_code == 0
    listing = runner.invoke(app, ["experiment", "list"])
    assert "hero" in listing.output and "stopped" in listing.output and "50%" in listing.output


@pytest.mark.parametrize(("args", "code"), [
    (["experiment", "create", "x", "-v", "a=1"], 2),                 # one variant
    (["experiment", "create", "x", "-v", "a=1", "-v", "b=oops"], 2),  # bad weight
    (["experiment", "create", "Bad Key", "-v", "a=1", "-v", "b=1"], 2),
    (["experiment", "start", "missing"], 1),
    (["experiment", "report", "missing"], 1),
    (["experiment", "coverage", "missing", "2"], 2),
])
def test_bad_input_exits_nonzero(args: list[str], code: int) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == code, result.output


def test_compare_generators_creates_a_generator_ab_test(tmp_path: Path) -> None:
    from pigen.data.model_registry import register_model_version
    from pigen.service.cli.common import open_database
    from pigen.service.experiments import store

    engine = open_database()
    unknown = runner.invoke(app, ["experiment", "create", "gens", "--compare-generators",
                                  "1", "2"])
    assert unknown.exit_code == 2 and "not a registered generator" in unknown.output
    files = [tmp_path / f"g{k}.safetensors" for k in (0, 1)]
    for file in files:
        file.write_bytes(b"registry entries only: this test serves no images")
    ids = [register_model_version(engine, "generator", file, {}, activate=k == 1).id
           for k, file in enumerate(files)]
    created = runner.invoke(app, [
        "experiment", "create", "gens", "--compare-generators", str(ids[0]), str(ids[1]),
        "--guardrail", "add_to_cart_rate", "--correction", "bh"])
    assert created.exit_code == 0, created.output
    info = store.get_experiment(engine, "gens")
    assert [(v.name, v.config["generator_version"]) for v in info.variants] == [
        ("control", ids[0]), ("treatment", ids[1])]
    assert info.plan.guardrails == ("add_to_cart_rate",) and info.plan.correction == "bh"
    both = runner.invoke(app, ["experiment", "create", "x", "--compare-generators", "1", "2",
                               "-v", "a=1"])
    assert both.exit_code == 2 and "not both" in both.output
