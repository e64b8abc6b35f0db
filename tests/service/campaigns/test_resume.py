"""Kill -9 a campaign run mid-way, run it again: exactly the uninterrupted result."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from pigen.service.campaigns.runner import run_campaign
from pigen.service.campaigns.store import campaign_progress, create_campaign
from tests.conftest import sqlite_engine_at
from tests.service.campaigns.conftest import tribes_store
from tests.service.campaigns.test_run import files_under, spec

# The real command line, with each shard slowed down between its images and its
# manifest part, so the kill often lands inside a claimed, half-written shard.
SLOW_CLI = """
import sys, time
from pigen.service.campaigns import shards
wait_written = shards.ShardContext.wait_written
def slow_wait_written(self, prepared, futures):
    time.sleep(0.25)
    wait_written(self, prepared, futures)
shards.ShardContext.wait_written = slow_wait_written
from pigen.service.cli import main
sys.argv = ["pigen", *sys.argv[1:]]
main()
"""


@pytest.mark.slow
def test_kill_and_resume_gives_the_uninterrupted_result(tmp_path: Path) -> None:
    db = tmp_path / "var" / "pigen.db"
    engine = tribes_store(sqlite_engine_at(db), tmp_path)
    killed = create_campaign(engine, spec(tmp_path / "killed", images_per_user=6,
                                          shard_size=2))
    env = {**os.environ, "PIGEN_STORAGE_DIR": str(tmp_path / "var"), "PIGEN_DEVICE": "cpu",
           "OMP_WAIT_POLICY": "PASSIVE"}
    env.pop("PIGEN_DATABASE_URL", None)
    rng = np.random.default_rng()
    kills, left_mid_shard = 0, 0
    for _ in range(2):  # kill it twice, at a random moment after a shard completed
        process = subprocess.Popen(
            [sys.executable, "-c", SLOW_CLI, "campaign", "run", str(killed.id), "--no-progress"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            done_before = campaign_progress(engine, killed.id).shards_done
            # A liveness bound only: a loaded 2-core machine takes minutes per start.
            deadline = time.monotonic() + 600
            while campaign_progress(engine, killed.id).shards_done <= done_before:
                assert process.poll() is None, "the run ended before we could kill it"
                assert time.monotonic() < deadline
                time.sleep(0.02)
            time.sleep(float(rng.uniform(0.0, 0.3)))
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=60)
        kills += process.returncode == -signal.SIGKILL
        left_mid_shard += campaign_progress(engine, killed.id).shards_running > 0
    assert kills == 2
    assert left_mid_shard >= 1  # at least one kill hit a claimed, half-written shard
    progress = campaign_progress(engine, killed.id)
    assert progress.campaign.status == "running"  # what a kill -9 leaves behind
    assert 1 <= progress.shards_done < progress.campaign.n_shards

    # Resume in a fresh process with the plain command line.
    resumed = subprocess.run(
        [sys.executable, "-m", "pigen.service.cli", "campaign", "run", str(killed.id),
         "--no-progress"], env=env, capture_output=True, text=True, timeout=900)
    assert resumed.returncode == 0, resumed.stderr
    progress = campaign_progress(engine, killed.id)
    assert progress.campaign.status == "completed"
    assert progress.shards_done == progress.campaign.n_shards

    reference = create_campaign(engine, spec(tmp_path / "reference", images_per_user=6,
                                             shard_size=2))
    run_campaign(engine, reference.id)
    got, expected = files_under(tmp_path / "killed"), files_under(tmp_path / "reference")
    # Every image present exactly once, byte for byte; manifest, parts and sheet too.
    assert sorted(got) == sorted(expected)
    assert sum(name.startswith("images/") for name in got) == reference.n_images
    mismatched = [name for name in expected if got[name] != expected[name]]
    assert mismatched == []
