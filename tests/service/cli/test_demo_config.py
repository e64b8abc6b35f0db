"""``pigen demo`` trains with the shipped ALS config from any working directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from fnmatch import fnmatch
from pathlib import Path

import pytest
import typer

from pigen.recsys.config import ALSConfig
from pigen.recsys.shipped import CONFIGS_DIR, TASTE_CONFIG
from pigen.service.cli.serve import demo_als_config

REPOSITORY = Path(__file__).resolve().parents[3]


def test_the_lookup_finds_the_packaged_config_outside_the_repository(tmp_path: Path) -> None:
    code = ("from pigen.service.cli.serve import demo_als_config; "
            "import json; print(json.dumps(demo_als_config(None).to_dict()))")
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PIGEN_")}
    ran = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=environment,
                         capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    assert not (tmp_path / "configs").exists()
    found = ALSConfig.from_dict(json.loads(ran.stdout))
    assert found == ALSConfig.from_dict(json.loads(TASTE_CONFIG.read_text()))
    assert found.value_offset == 3.0 and found != ALSConfig()  # not the ranking defaults


def test_the_config_is_package_data_and_the_repository_path_still_works() -> None:
    package_data = tomllib.loads((REPOSITORY / "pyproject.toml").read_text())[
        "tool"]["setuptools"]["package-data"]["pigen.recsys"]
    relative = TASTE_CONFIG.relative_to(CONFIGS_DIR.parent).as_posix()
    assert any(fnmatch(relative, pattern) for pattern in package_data)
    assert (REPOSITORY / "configs" / "als_taste.json").resolve() == TASTE_CONFIG.resolve()


def test_an_explicit_config_wins_and_a_bad_one_is_refused(tmp_path: Path) -> None:
    mine = tmp_path / "mine.json"
    mine.write_text(json.dumps({"factors": 16}))
    assert demo_als_config(mine).factors == 16
    mine.write_text(json.dumps({"factor": 16}))
    with pytest.raises(typer.Exit) as refused:
        demo_als_config(mine)
    assert refused.value.exit_code == 2
