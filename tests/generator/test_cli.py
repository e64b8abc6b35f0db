"""``pigen generator sample|export|train`` on a tiny real generator."""

from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from pigen.data.conditions import ConditionLayout
from pigen.generator.checkpoint import load_generator, save_generator
from pigen.generator.models import Generator
from pigen.service.cli import app

runner = CliRunner()


@pytest.fixture
def weights(tmp_path: Path, tiny_generator: Generator, layout: ConditionLayout) -> Path:
    return save_generator(tiny_generator, layout, tmp_path / "g.safetensors")


def test_sample_writes_n_pngs(tmp_path: Path, weights: Path) -> None:
    out = tmp_path / "out"
    result = runner.invoke(app, ["generator", "sample", "--weights", str(weights),
                                 "--category", "Dress", "--colour", "#ff8000",
                                 "--pattern", "striped", "--n", "3", "--seed", "5",
                                 "--out", str(out), "--size", "64"])
    assert result.exit_code == 0, result.output
    files = sorted(out.glob("*.png"))
    assert [f.name for f in files] == [f"Dress-ff8000-striped-seed{s}.png" for s in (5, 6, 7)]
    assert Image.open(files[0]).size == (64, 64)


@pytest.mark.parametrize(
    "flag, value, message",
    [("--category", "Spaceship", "unknown category"), ("--colour", "mauve", "not #rrggbb"),
     ("--pattern", "paisley", "unknown pattern")],
)
def test_sample_rejects_bad_conditions(tmp_path: Path, weights: Path, flag: str, value: str,
                                       message: str) -> None:
    args = {"--category": "Dress", "--colour": "red", "--pattern": "solid"}
    args[flag] = value
    result = runner.invoke(app, ["generator", "sample", "--weights", str(weights),
                                 "--out", str(tmp_path),
                                 *[x for kv in args.items() for x in kv]])
    assert result.exit_code == 2
    assert message in result.output


def test_sample_with_missing_weights_fails_clearly(tmp_path: Path) -> None:
    result = runner.invoke(app, ["generator", "sample", "--weights", str(tmp_path / "x"),
                                 "--category", "Dress", "--colour", "red"])
    assert result.exit_code == 1 and "not found" in result.output


def test_bad_config_override_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["generator", "train", "--run-dir", str(tmp_path),
                                 "--set", "resolution=48"])
    assert result.exit_code == 2 and "resolution" in result.output


@pytest.mark.slow
def test_train_then_export_from_the_checkpoint(tmp_path: Path) -> None:
    run = tmp_path / "run"
    result = runner.invoke(app, ["generator", "train", "--run-dir", str(run),
                                 "--judge", str(tmp_path / "no-judge.safetensors"),
                                 *sum((["--set", kv] for kv in (
                                     "steps=2", "batch_size=4", "z_dim=8", "g_channels=16",
                                     "condition_embedding=8", "d_channels=8",
                                     "checkpoint_every=1", "eval_every=2")), [])])
    assert result.exit_code == 0, result.output
    exported = tmp_path / "exported.safetensors"
    result = runner.invoke(app, ["generator", "export", "--run-dir", str(run),
                                 "--out", str(exported)])
    assert result.exit_code == 0, result.output
    assert load_generator(exported).metrics["steps"] == 2
