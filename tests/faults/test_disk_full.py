"""The disk fills during an image write: 507 with a message, and no partial file left.

The error comes from the real OS, two ways: a tiny tmpfs as the image store
(needs root and ``mount``; skipped with the reason otherwise), and a file-size
limit on a ``pigen serve`` child (``RLIMIT_FSIZE`` with SIGXFSZ ignored gives
EFBIG), which any user can set.
"""

from __future__ import annotations

import contextlib
import errno
import os
import resource
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from pigen.service.app import create_app
from pigen.service.png_check import png_intact
from tests.faults.conftest import api_settings, files_under, http_client, listed_urls
from tests.faults.server_process import ServerProcess
from tests.utils.live_server import LiveServer

pytestmark = pytest.mark.slow


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs, filled to the last byte by ``filler``."""
    mount_point = tmp_path / "images"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs",
                              str(mount_point)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=False)


def fill(disk: Path) -> Path:
    """Write until the OS says the disk is full; returns the filler file."""
    filler = disk / "filler"
    descriptor = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        for chunk in (4096, 1):  # whole pages, then whatever byte is left
            with contextlib.suppress(OSError):
                while True:
                    os.write(descriptor, b"\0" * chunk)
    finally:
        os.close(descriptor)
    probe = os.open(disk / "probe", os.O_WRONLY | os.O_CREAT)
    try:
        with pytest.raises(OSError) as full:
            os.write(probe, b"\0")
    finally:
        os.close(probe)
        (disk / "probe").unlink()
    assert full.value.errno == errno.ENOSPC
    return filler


def assert_refused_and_nothing_partial(response, disk: Path) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 507, response.text
    assert "image store is full" in response.json()["detail"]
    assert int(response.headers["retry-after"]) > 0
    leftovers = [p for p in files_under(disk) if p.name != "filler"]
    assert leftovers == [], leftovers  # no .tmp, no half PNG


def test_a_full_disk_gives_507_leaves_nothing_partial_and_heals(
        store_engine: Engine, tmp_path: Path, tiny_disk: Path) -> None:
    settings = api_settings(tmp_path, str(store_engine.url), image_cache_dir=tiny_disk)
    with LiveServer(create_app(settings, engine=store_engine)) as server, \
            http_client(server) as client:
        urls = listed_urls(client, "shopper-003", n=2)
        filler = fill(tiny_disk)
        assert_refused_and_nothing_partial(client.get(urls[0]), tiny_disk)
        assert client.get("/healthz").status_code == 200  # the process is fine
        filler.unlink()  # the operator frees space
        again = client.get(urls[0])
        assert again.status_code == 200 and png_intact(again.content)
        stored = [p for p in files_under(tiny_disk)]
        assert len(stored) == 1 and stored[0].read_bytes() == again.content


def _limit_file_size(limit: int) -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a killed process
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


@pytest.mark.parametrize("store_backend", [pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_file_size_limit_gives_507_and_nothing_partial(store_engine: Engine,
                                                         tmp_path: Path) -> None:
    """PostgreSQL only: a SQLite database file would meet the limit first."""
    images = tmp_path / "images"
    url = store_engine.url.render_as_string(hide_password=False)
    settings = {"PIGEN_DATABASE_URL": url, "PIGEN_STORAGE_DIR": str(tmp_path / "var"),
                "PIGEN_IMAGE_CACHE_DIR": str(images)}
    with ServerProcess(tmp_path, settings, before_exec=lambda: _limit_file_size(40)) as server, \
            http_client(server.url) as client:
        urls = listed_urls(client, "shopper-004", n=2)
        response = client.get(urls[0])
        assert_refused_and_nothing_partial(response, images)
        assert "File too large" in server.log() or "no room" in server.log()
        assert client.get("/healthz").status_code == 200
    assert os.path.isdir(images)
