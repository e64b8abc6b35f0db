"""``pigen worker``: queued campaigns are run within the run limit, and a killed worker's
campaign is resumed by another with exactly one image per user and index."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from sqlalchemy import Engine, func, select

from pigen.data.schema import Campaign, CampaignShard
from pigen.service.campaigns import leases
from pigen.service.campaigns.runner import run_campaign
from pigen.service.campaigns.shards import ShardResult
from pigen.service.campaigns.store import campaign_progress, create_campaign
from pigen.service.campaigns.worker import CampaignWorker, WorkerOptions
from tests.service.campaigns.test_resume import SLOW_CLI
from tests.service.campaigns.test_run import files_under, spec


def running_with_slot(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(Campaign).where(
            Campaign.status == "running", Campaign.run_slot.is_not(None))).scalar_one())


def test_workers_run_every_queued_campaign_within_the_limit(store_engine: Engine,
                                                            tmp_path: Path) -> None:
    ids = [create_campaign(store_engine, spec(tmp_path / f"c{k}", "top=6", shard_size=2,
                                              images_per_user=2)).id for k in range(3)]
    for campaign_id in ids:
        leases.enqueue(store_engine, campaign_id)
    seen: list[int] = []  # runs holding a slot, read from the database after each shard

    def after_shard(_campaign_id: int, _result: ShardResult) -> None:
        seen.append(running_with_slot(store_engine))

    options = WorkerOptions(max_runs=2, poll_seconds=0.05, device="cpu")
    workers = [CampaignWorker(store_engine, options, on_shard=after_shard) for _ in range(3)]
    threads = [threading.Thread(target=w.run, kwargs={"drain": True}) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(w.runs_started for w in workers) == 3
    assert len(seen) == 9 and max(seen) <= 2  # 3 campaigns x 3 shards; never 3 at once
    for campaign_id in ids:
        progress = campaign_progress(store_engine, campaign_id)
        assert progress.campaign.status == "completed"
        assert (progress.images_done, progress.attempts) == (12, 3)  # no shard made twice
    assert running_with_slot(store_engine) == 0


def test_a_stopping_worker_gives_its_campaign_back(store_engine: Engine,
                                                  tmp_path: Path) -> None:
    campaign = create_campaign(store_engine, spec(tmp_path / "out", shard_size=2))
    leases.enqueue(store_engine, campaign.id)
    options = WorkerOptions(poll_seconds=0.05, device="cpu")
    stopping = CampaignWorker(store_engine, options,
                              on_shard=lambda _id, _result: stopping.stop.set())
    stopping.run()  # asked to stop (SIGTERM) while its first shard was being made
    left = campaign_progress(store_engine, campaign.id)
    assert left.campaign.status == "queued"  # not "running" with nobody running it
    assert 1 <= left.shards_done < campaign.n_shards and left.shards_running == 0
    CampaignWorker(store_engine, options).run(drain=True)
    done = campaign_progress(store_engine, campaign.id)
    assert done.campaign.status == "completed" and done.images_done == campaign.n_images
    assert done.attempts == campaign.n_shards  # the shards in hand were finished, not redone


def test_a_command_line_run_takes_over_from_a_killed_holder(store_engine: Engine,
                                                            tmp_path: Path) -> None:
    campaign = create_campaign(store_engine, spec(tmp_path / "out", "top=2"))
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    holder = f"{socket.gethostname()[:80]}:{gone.stdout.strip()}:dead"
    leases.acquire_run(store_engine, campaign.id, holder, seconds=3600)
    assert leases.holder_is_gone(holder) and not leases.holder_is_gone(leases.new_owner())
    report = run_campaign(store_engine, campaign.id)  # the lease would last an hour
    assert report.finished and report.images_made == 8


@pytest.mark.slow
def test_a_killed_workers_campaign_is_resumed_once_per_image(engine: Engine,
                                                              tmp_path: Path) -> None:
    from tests.service.campaigns.conftest import tribes_store

    store = tribes_store(engine, tmp_path)
    killed = create_campaign(store, spec(tmp_path / "killed", images_per_user=3, shard_size=2))
    leases.enqueue(store, killed.id)
    env = {**os.environ, "PIGEN_STORAGE_DIR": str(tmp_path / "var"), "PIGEN_DEVICE": "cpu",
           "PIGEN_DATABASE_URL": store.url.render_as_string(hide_password=False),
           "PIGEN_CAMPAIGN_LEASE_SECONDS": "3", "PIGEN_CAMPAIGN_POLL_SECONDS": "0.1",
           "OMP_WAIT_POLICY": "PASSIVE"}
    log = tmp_path / "worker.log"
    with log.open("w") as stderr:
        worker = subprocess.Popen([sys.executable, "-c", SLOW_CLI, "worker"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        deadline = time.monotonic() + 600  # liveness only: starts are slow on a busy box
        while campaign_progress(store, killed.id).shards_done < 2:
            assert worker.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.02)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=60)
    assert worker.returncode == -signal.SIGKILL
    left = campaign_progress(store, killed.id)
    assert left.campaign.status == "running"  # what a kill -9 leaves behind
    assert left.shards_running >= 1  # claimed shards, half written
    assert left.shards_done < left.campaign.n_shards

    # Another worker takes the campaign over and finishes it.
    heir = CampaignWorker(store, WorkerOptions(lease_seconds=3, poll_seconds=0.1,
                                               device="cpu"))
    heir.run(drain=True)
    assert heir.runs_started == 1
    done = campaign_progress(store, killed.id)
    assert done.campaign.status == "completed"
    assert done.images_done == killed.n_images
    assert done.attempts > done.campaign.n_shards  # the killed shards were redone
    with store.connect() as connection:
        leased = connection.execute(select(func.count()).select_from(CampaignShard).where(
            CampaignShard.lease_owner.is_not(None))).scalar_one()
    assert leased == 0

    out = tmp_path / "killed"
    manifest = pq.read_table(out / "manifest.parquet").to_pandas()
    assert len(manifest) == killed.n_images  # no duplicates, no gaps
    assert not manifest.duplicated(["user_id", "image_index"]).any()
    assert manifest.groupby("user_id").size().eq(3).all()
    assert manifest["user_id"].nunique() == killed.n_users
    pngs = sorted(p.relative_to(out).as_posix() for p in (out / "images").rglob("*.png"))
    assert pngs == sorted(manifest["image_path"])  # exactly one file per image
    assert not list(out.rglob("*.tmp"))
    # Byte for byte what an uninterrupted run makes.
    reference = create_campaign(store, spec(tmp_path / "reference", images_per_user=3,
                                            shard_size=2))
    run_campaign(store, reference.id)
    assert files_under(out) == files_under(tmp_path / "reference")


@pytest.mark.parametrize("bad", [{"campaign_max_runs": 0}, {"campaign_lease_seconds": 0.5},
                                 {"campaign_poll_seconds": 0}])
def test_worker_settings_are_validated(bad: dict[str, float], tmp_path: Path) -> None:
    from pydantic import ValidationError

    from pigen.service.settings import Settings

    with pytest.raises(ValidationError, match=next(iter(bad))):
        Settings(storage_dir=tmp_path, **bad)  # type: ignore[arg-type]
    assert Settings(storage_dir=tmp_path).campaign_max_runs == 1  # one run at a time
