"""bench/campaign.py still runs (50 users, both backends); figures are not checked."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.mark.slow
def test_campaign_bench_runs() -> None:
    pytest.importorskip("ray")
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    result = subprocess.run([sys.executable, "campaign.py", "--users", "50", "--items", "300",
                             "--bare-images", "128"],
                            cwd=BENCH, capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    for text in ("bare generator", "local", "ray", "target local within 1.5x",
                 "byte-identical: yes"):
        assert text in result.stdout, result.stdout[-3000:]
