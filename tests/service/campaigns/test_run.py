"""Create and run campaigns with the local backend; bad definitions fail before any work."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from PIL import Image
from sqlalchemy import Engine
from typer.testing import CliRunner

from pigen.service.campaigns.definition import CampaignSpec, parse_segment
from pigen.service.campaigns.runner import run_campaign
from pigen.service.campaigns.store import (
    CampaignError,
    campaign_progress,
    create_campaign,
)
from pigen.service.cli import app
from pigen.service.settings import get_settings
from tests.service.campaigns.conftest import tribes_store
from tests.utils.store import snapshot

runner = CliRunner()


def spec(output: Path, segment: str = "all", **options: object) -> CampaignSpec:
    values = {"shard_size": 5, "batch_size": 8, **options}
    return CampaignSpec(name="spring", segment=parse_segment(segment), output_dir=output,
                        **values)  # type: ignore[arg-type]


def files_under(root: Path) -> dict[str, bytes]:
    """Every file below ``root`` (relative path -> bytes), the campaign's marker excepted."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != "campaign.json"}


def test_run_writes_images_manifest_and_sheet(store_engine: Engine, tmp_path: Path) -> None:
    campaign = create_campaign(store_engine, spec(tmp_path / "out", images_per_user=3))
    assert (campaign.n_users, campaign.n_shards) == (22, 5)
    assert campaign_progress(store_engine, campaign.id).campaign.status == "created"

    report = run_campaign(store_engine, campaign.id)
    assert (report.shards_run, report.images_made) == (5, 66)
    progress = campaign_progress(store_engine, campaign.id)
    assert progress.campaign.status == "completed"
    assert (progress.shards_done, progress.images_done, progress.fraction) == (5, 66, 1.0)

    out = tmp_path / "out"
    manifest = pq.read_table(out / "manifest.parquet").to_pandas()
    assert len(manifest) == 66 and manifest["image_path"].is_unique
    assert manifest.groupby("user_id").size().eq(3).all()
    assert set(manifest["generator_version_id"]) == {campaign.generator.id}
    assert set(manifest["recsys_version_id"]) == {campaign.recsys.id}
    assert manifest["seed"].is_unique
    images = sorted(p.relative_to(out).as_posix() for p in (out / "images").rglob("*.png"))
    assert images == sorted(manifest["image_path"])
    with Image.open(out / "images" / "b4" / "02.png") as image:
        assert image.size == (32, 32)
    # Tribe b rated only (dotted, blue) bags: their explanation names their own items.
    b4 = manifest[manifest["user_id"] == "b4"].iloc[0]
    assert b4["factor_source"] == "model" and b4["explanation"].startswith("made from your")
    assert all(int(item[1:]) >= 10 for item in b4["contributing_items"])
    lurker = manifest[manifest["user_id"] == "lurker"].iloc[0]
    assert lurker["factor_source"] == "prior"
    assert (out / "contact_sheet.png").stat().st_size > 0
    assert not list(out.rglob("*.tmp"))

    # A rerun of a finished campaign makes nothing and changes no byte.
    before = files_under(out)
    again = run_campaign(store_engine, campaign.id)
    assert again.shards_run == 0 and files_under(out) == before


def test_same_definition_same_bytes(sqlite_store: Engine, tmp_path: Path) -> None:
    first = create_campaign(sqlite_store, spec(tmp_path / "one", "top=6", seed=7))
    second = create_campaign(sqlite_store, spec(tmp_path / "two", "top=6", seed=7))
    run_campaign(sqlite_store, first.id)
    run_campaign(sqlite_store, second.id, workers=2)  # PNG threads change nothing
    assert files_under(tmp_path / "one") == files_under(tmp_path / "two")
    other = create_campaign(sqlite_store, spec(tmp_path / "three", "top=6", seed=8))
    run_campaign(sqlite_store, other.id)
    assert files_under(tmp_path / "three") != files_under(tmp_path / "one")


@pytest.mark.parametrize(("segment", "message"), [
    ("category=Hat", "bad segment: no item has category 'Hat'"),
    ("ids=a1,ghost", "bad segment: 1 user ids are not in the store: 'ghost'"),
    ("active-since=2100-01-01", "bad segment: the segment selects no users"),
])
def test_bad_segment_fails_before_any_work(store_engine: Engine, tmp_path: Path,
                                           segment: str, message: str) -> None:
    before = snapshot(store_engine)
    with pytest.raises(CampaignError, match=message):
        create_campaign(store_engine, spec(tmp_path / "out", segment))
    assert snapshot(store_engine) == before
    assert not (tmp_path / "out").exists()


def test_unwritable_output_fails_before_any_work(sqlite_store: Engine, tmp_path: Path) -> None:
    before = snapshot(sqlite_store)
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(CampaignError, match="is not a folder|is not writable"):
        create_campaign(sqlite_store, spec(tmp_path / "a-file"))
    with pytest.raises(CampaignError, match="is not writable"):
        create_campaign(sqlite_store, spec(tmp_path / "a-file" / "out"))
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "old.png").write_bytes(b"")
    with pytest.raises(CampaignError, match="is not empty"):
        create_campaign(sqlite_store, spec(tmp_path / "busy"))
    if os.geteuid() != 0:  # root writes anywhere
        (tmp_path / "locked").mkdir(mode=0o555)
        with pytest.raises(CampaignError, match="is not writable"):
            create_campaign(sqlite_store, spec(tmp_path / "locked" / "out"))
    assert snapshot(sqlite_store) == before


def test_output_made_unwritable_fails_the_run_before_any_shard(sqlite_store: Engine,
                                                                tmp_path: Path) -> None:
    campaign = create_campaign(sqlite_store, spec(tmp_path / "out"))
    (tmp_path / "out" / "campaign.json").unlink()
    (tmp_path / "out").rmdir()
    (tmp_path / "out").write_text("someone put a file here")
    with pytest.raises(CampaignError, match="is not a folder"):
        run_campaign(sqlite_store, campaign.id)
    assert campaign_progress(sqlite_store, campaign.id).attempts == 0


def test_ray_backend_without_ray_says_how_to_install(sqlite_store: Engine, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    campaign = create_campaign(sqlite_store, spec(tmp_path / "out"))
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(CampaignError, match=r"pip install 'pigen\[ray\]'"):
        run_campaign(sqlite_store, campaign.id, backend="ray")
    assert campaign_progress(sqlite_store, campaign.id).campaign.status == "created"


# -- command line ---------------------------------------------------------------------


@pytest.fixture
def cli_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The tribes store in the SQLite file the ``pigen`` command line opens."""
    from tests.conftest import sqlite_engine_at

    monkeypatch.setenv("PIGEN_STORAGE_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("PIGEN_DEVICE", "cpu")
    monkeypatch.delenv("PIGEN_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    engine = sqlite_engine_at(tmp_path / "var" / "pigen.db")
    tribes_store(engine, tmp_path)
    engine.dispose()
    yield tmp_path
    get_settings.cache_clear()


def test_cli_create_run_status(cli_store: Path) -> None:
    out = cli_store / "campaign"
    result = runner.invoke(app, ["campaign", "create", "--name", "spring", "--output", str(out),
                                 "--segment", "category=Bag", "--images-per-user", "2",
                                 "--shard-size", "4"])
    assert result.exit_code == 0, result.output
    assert "campaign 1 created: 11 users (users who rated Bag), 22 images in 3 shards" \
        in result.output
    status = runner.invoke(app, ["campaign", "status", "1"])
    assert "created" in status.output and "0/3 shards" in status.output
    run = runner.invoke(app, ["campaign", "run", "1", "--no-progress"])
    assert run.exit_code == 0, run.output
    assert "22 images made in 3 shards" in run.output
    status = runner.invoke(app, ["campaign", "status", "1", "--json"])
    assert '"status": "completed"' in status.output and '"images_done": 22' in status.output
    listing = runner.invoke(app, ["campaign", "list"])
    assert "completed" in listing.output and "spring" in listing.output


def test_cli_errors(cli_store: Path) -> None:
    bad = runner.invoke(app, ["campaign", "create", "--name", "x", "--output",
                              str(cli_store / "o"), "--segment", "vip=1"])
    assert bad.exit_code == 2 and "unknown segment kind 'vip'" in bad.output
    bad = runner.invoke(app, ["campaign", "create", "--name", "x", "--output",
                              str(cli_store / "o"), "--images-per-user", "0"])
    assert bad.exit_code == 2 and "images_per_user" in bad.output
    bad = runner.invoke(app, ["campaign", "create", "--name", "x", "--output",
                              str(cli_store / "o"), "--segment", "category=Hat"])
    assert bad.exit_code == 1 and "no item has category 'Hat'" in bad.output
    assert runner.invoke(app, ["campaign", "status", "9"]).output.strip() == "no campaign 9"
    bad = runner.invoke(app, ["campaign", "run", "1", "--backend", "spark"])
    assert bad.exit_code == 2 and "--backend must be local or ray" in bad.output
