"""The experiments simulation still runs and prints its three results (quick mode)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.mark.slow
def test_experiments_sim_quick() -> None:
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    result = subprocess.run([sys.executable, "experiments_sim.py", "--quick"], cwd=BENCH,
                            capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    for text in ("(a) A/A false-positive rate", "(b) +10% lift detected",
                 "(c) SRM check on a 48/52 split"):
        assert text in result.stdout, result.stdout
