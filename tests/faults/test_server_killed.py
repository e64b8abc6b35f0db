"""kill -9 of the server while it generates: after a restart the same ids give the same bytes.

A real ``pigen serve`` child is killed (SIGKILL: no shutdown, no clean-up) while
a burst of first fetches is being generated and written, and restarted on the
same database and image store. Every image then matches what an independent
server, which never saw the kill, makes for the same id.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from pigen.service.app import create_app
from pigen.service.image_store import PARTIAL_WRITE
from pigen.service.png_check import png_intact
from tests.faults.conftest import HTTP_TIMEOUT_S, api_settings, files_under, http_client
from tests.faults.server_process import ServerProcess
from tests.utils.live_server import LiveServer

pytestmark = pytest.mark.slow


def fetch_all(base_url: str, urls: list[str], first_answer: threading.Event) -> None:
    """First fetches, several at a time, until the server dies under them."""
    def worker(part: list[str]) -> None:
        with httpx.Client(base_url=base_url, timeout=HTTP_TIMEOUT_S) as client:
            for url in part:
                try:
                    client.get(url)
                except httpx.HTTPError:
                    return  # killed
                first_answer.set()

    threads = [threading.Thread(target=worker, args=(urls[k::4],)) for k in range(4)]
    for thread in threads:
        thread.start()
    first_answer.wait(timeout=HTTP_TIMEOUT_S)
    return None


def fetch_patiently(client: httpx.Client, url: str, attempts: int = 30) -> httpx.Response:
    """``GET url``, waiting out 503 + Retry-After (a starved CPU sheds load; that is allowed)."""
    response = client.get(url)
    for _ in range(attempts):
        if response.status_code != 503:
            break
        time.sleep(min(float(response.headers.get("retry-after", "1")), 5.0))
        response = client.get(url)
    return response


def test_kill_9_during_generation_then_restart_gives_the_same_bytes(
        store_engine: Engine, tmp_path: Path) -> None:
    images = tmp_path / "images"
    url = store_engine.url.render_as_string(hide_password=False)
    settings = {"PIGEN_DATABASE_URL": url, "PIGEN_STORAGE_DIR": str(tmp_path / "var"),
                "PIGEN_IMAGE_CACHE_DIR": str(images), "PIGEN_BATCH_MAX_SIZE": "4"}
    server = ServerProcess(tmp_path, settings).start()
    try:
        with http_client(server.url) as client:
            urls = [image["url"] for shopper in ("shopper-006", "shopper-007", "shopper-008")
                    for image in client.get(f"/v1/users/{shopper}/images",
                                            params={"n": 16}).json()["images"]]
            before = {u: fetch_patiently(client, u).content for u in urls[:4]}
        first_answer = threading.Event()
        fetch_all(server.url, urls[4:], first_answer)
        server.kill()  # mid-burst: batches queued, being generated, being written
    finally:
        server.kill()
    made_before_kill = len([p for p in files_under(images) if p.suffix == ".png"])

    with ServerProcess(tmp_path, settings) as restarted, http_client(restarted.url) as client:
        after = {u: fetch_patiently(client, u) for u in urls}
        assert [p for p in files_under(images) if PARTIAL_WRITE.fullmatch(p.name)] == []
    damaged = {u: (r.status_code, r.text[:200]) for u, r in after.items()
               if r.status_code != 200 or not png_intact(r.content)}
    assert damaged == {}
    assert {u: after[u].content for u in before} == before

    # An independent server on the same database, its own empty image store.
    reference = api_settings(tmp_path / "reference", url)
    with LiveServer(create_app(reference)) as server_b, http_client(server_b) as client_b:
        expected = {u: fetch_patiently(client_b, u).content for u in urls}
    assert {u: r.content for u, r in after.items()} == expected
    assert 4 <= made_before_kill <= len(urls)


def test_start_up_removes_what_a_killed_write_left_and_nothing_else(
        make_client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A kill between write and rename leaves ``.<id>.png.<random>.tmp``: swept at start."""
    first = make_client()
    url = first.get("/v1/users/shopper-010/images", params={"n": 1}).json()["images"][0]["url"]
    made = first.get(url).content
    [image] = files_under(tmp_path / "var" / "images")
    partial = image.with_name(f".{image.name}.{'0' * 32}.tmp")
    partial.write_bytes(made[:40])  # what the killed process had written so far
    unrelated = image.with_name(".keep")
    unrelated.write_bytes(b"")
    restarted = make_client()
    assert not partial.exists() and unrelated.exists()
    assert image.read_bytes() == made and restarted.get(url).content == made
