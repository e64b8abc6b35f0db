"""The Ray backend keeps the database password out of task arguments and log lines.

PostgreSQL here trusts local connections, so a URL with a password connects and
the password can be looked for everywhere Ray and pigen write.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from pigen.data.database import make_engine
from pigen.service.campaigns.ray_backend import actor_arguments, database_address
from pigen.service.campaigns.runner import run_campaign
from pigen.service.campaigns.store import campaign_progress, create_campaign
from tests.service.campaigns.conftest import tribes_store
from tests.service.campaigns.test_run import spec

SECRET = "pw-6f1c-never-shown"


@pytest.fixture
def ray_dir() -> Iterator[Path]:
    """Ray's session folder, short (socket paths are limited) and ours to search."""
    folder = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def secret_store(postgres_engine: Engine, tmp_path: Path) -> Iterator[Engine]:
    url = postgres_engine.url.set(password=SECRET).render_as_string(hide_password=False)
    engine = make_engine(url)
    yield tribes_store(engine, tmp_path)
    engine.dispose()


@pytest.mark.slow
@pytest.mark.postgres
def test_no_password_in_task_arguments_or_logs(secret_store: Engine, tmp_path: Path,
                                               ray_dir: Path,
                                               caplog: pytest.LogCaptureFixture) -> None:
    ray = pytest.importorskip("ray")
    campaign = create_campaign(secret_store, spec(tmp_path / "out", shard_size=8))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             _temp_dir=str(ray_dir))
    try:
        address = database_address(secret_store)
        # What Ray records for each actor: no password in its serialised form...
        recorded = ray.cloudpickle.dumps(actor_arguments(address, campaign.id, "cpu", 1))
        assert SECRET.encode() not in recorded and "***" in address.url
        # ... yet the actor gets the full URL back from the object store.
        assert address.resolve() == secret_store.url.render_as_string(hide_password=False)
        with caplog.at_level(logging.INFO, logger="pigen"):
            report = run_campaign(secret_store, campaign.id, backend="ray", workers=2)
    finally:
        ray.shutdown()
    assert report.shards_run == campaign.n_shards
    assert campaign_progress(secret_store, campaign.id).campaign.status == "completed"
    assert "database postgresql+psycopg://postgres:***@" in caplog.text
    assert SECRET not in caplog.text
    logs = [p for p in ray_dir.rglob("*") if p.is_file() and not p.is_symlink()]
    assert any(p.suffix in {".log", ".err", ".out"} for p in logs)
    assert [p.name for p in logs if SECRET.encode() in p.read_bytes()] == []
