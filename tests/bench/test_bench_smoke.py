"""The benchmarks still run (tiny sizes): a broken bench is caught here, not by a reader.

Figures are not checked; timings never are.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"

CASES = {
    "ingest": (["ingest.py", "--rows", "20000", "--users", "2000", "--items", "500",
                "--repeats", "1"], ["pigen / to_sql", "sqlite", "postgresql"]),
    "recsys_pipeline": (["recsys_pipeline.py", "--shoppers", "300", "--items", "300",
                         "--ratings-per-shopper", "10", "--repeats", "1"],
                        ["ratio pipeline / bare fit", "recommend, one user"]),
    "recsys_movielens": (["recsys_movielens.py", "--quick"],
                         ["plain implicit", "popularity", "pigen defaults", "pigen tuned",
                          "EASE", "liked-last5", "time-20%"]),
    "taste_recovery": (["taste_recovery.py", "--quick"],
                       ["mean gap closed", "oracle", "ceiling probe", "combination hit",
                        "whole liked items"]),
    "generator_throughput": (["generator_throughput.py", "--quick", "--no-compile"],
                             ["matmul peak", "images/s by batch size", "best at batch 64"]),
    "service_load": (["service_load.py", "--quick"], ["batched / per request"]),
    "soak": (["soak.py", "--quick", "--minutes", "0.5", "--window-seconds", "10"],
             ["errors:", "RSS after warm-up"]),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CASES))
def test_bench_runs(name: str) -> None:
    if name in ("ingest",):
        from tests.conftest import require_postgres

        require_postgres()
    args, expected = CASES[name]
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    result = subprocess.run([sys.executable, *args], cwd=BENCH, capture_output=True,
                            text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    for text in expected:
        assert text in result.stdout, result.stdout[-3000:]
