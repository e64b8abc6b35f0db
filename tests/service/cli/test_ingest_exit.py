"""``pigen ingest`` in a real process: a rejected file always exits 1, never SIGABRT (134)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

RUNS = 5  # the abort hit 1 in 5 to 1 in 20 runs


def pigen(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PIGEN_STORAGE_DIR": str(tmp_path / "var"), "OMP_NUM_THREADS": "1",
           "PIGEN_DATABASE_URL": f"sqlite:///{tmp_path / 'var' / 'pigen.db'}"}
    return subprocess.run([sys.executable, "-m", "pigen.service.cli", *args], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120)


def test_rejected_ingest_exits_1_every_time(tmp_path: Path) -> None:
    (tmp_path / "catalog.csv").write_text("item_id,category\ni0,Dress\ni1,Bag\n")
    (tmp_path / "good.csv").write_text("user_id,item_id,rating\nu1,i0,5\n")
    (tmp_path / "changed.csv").write_text("user_id,item_id,rating\nu1,i0,2\nu1,i1,9e99\n")
    assert pigen(tmp_path, "ingest", "catalog", "catalog.csv").returncode == 0
    assert pigen(tmp_path, "ingest", "ratings", "good.csv").returncode == 0
    for _ in range(RUNS):
        result = pigen(tmp_path, "ingest", "ratings", "changed.csv")
        assert result.returncode == 1, result.stderr
        assert "changed.csv rejected" in result.stderr
        assert "line 3, column 'rating'" in result.stderr
        assert "Traceback" not in result.stderr


def test_on_conflict_choice_on_the_command_line(tmp_path: Path) -> None:
    (tmp_path / "catalog.csv").write_text("item_id,category\ni0,Dress\n")
    (tmp_path / "a.csv").write_text("user_id,item_id,rating\nu1,i0,5\n")
    (tmp_path / "b.csv").write_text("user_id,item_id,rating\nu1,i0,2\n")
    assert pigen(tmp_path, "ingest", "catalog", "catalog.csv").returncode == 0
    assert pigen(tmp_path, "ingest", "ratings", "a.csv").returncode == 0
    refused = pigen(tmp_path, "ingest", "ratings", "b.csv")
    assert refused.returncode == 1 and "--on-conflict skip or update" in refused.stderr
    updated = pigen(tmp_path, "ingest", "ratings", "b.csv", "--on-conflict", "update")
    assert updated.returncode == 0 and "1 updated" in updated.stdout
    wrong = pigen(tmp_path, "ingest", "ratings", "b.csv", "--on-conflict", "maybe")
    assert wrong.returncode == 2
