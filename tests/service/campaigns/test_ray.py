"""The Ray backend (a local two-CPU Ray) makes the same files as the local backend."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from pigen.service.campaigns.runner import run_campaign
from pigen.service.campaigns.store import campaign_progress, create_campaign
from tests.service.campaigns.test_run import files_under, spec


@pytest.mark.slow
def test_ray_and_local_backends_write_identical_files(sqlite_store: Engine,
                                                      tmp_path: Path) -> None:
    ray = pytest.importorskip("ray")
    local = create_campaign(sqlite_store, spec(tmp_path / "local", shard_size=4))
    remote = create_campaign(sqlite_store, spec(tmp_path / "ray", shard_size=4))
    run_campaign(sqlite_store, local.id, backend="local")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        report = run_campaign(sqlite_store, remote.id, backend="ray", workers=2)
    finally:
        ray.shutdown()
    assert report.shards_run == remote.n_shards == 6
    assert campaign_progress(sqlite_store, remote.id).campaign.status == "completed"
    got, expected = files_under(tmp_path / "ray"), files_under(tmp_path / "local")
    assert sorted(got) == sorted(expected)
    assert [name for name in expected if got[name] != expected[name]] == []
