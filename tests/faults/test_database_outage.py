"""PostgreSQL stops mid-traffic: 503 with Retry-After, then healed without a restart.

The shared PostgreSQL server is never stopped: a TCP proxy between a real HTTP
server and PostgreSQL is cut (open connections closed, new ones refused) while a
thread keeps requesting, then restored.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine

from pigen.service.app import create_app
from tests.faults.conftest import api_settings, http_client, listed_urls
from tests.faults.tcp_proxy import TcpProxy
from tests.utils.live_server import LiveServer

pytestmark = pytest.mark.slow

POSTGRES_ONLY = pytest.mark.parametrize(
    "store_backend", [pytest.param("postgres", marks=pytest.mark.postgres)])


class Traffic:
    """Shoppers' image listings, one after another in a thread, every answer kept."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.answers: list[tuple[int, str | None, str]] = []  # (status, Retry-After, body)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="traffic", daemon=True)

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=120)

    def wait_for(self, count: int) -> None:
        """Until ``count`` more answers came (each request is bounded by the HTTP timeout)."""
        target = len(self.answers) + count
        while len(self.answers) < target and self._thread.is_alive():
            time.sleep(0.01)

    def _run(self) -> None:
        with http_client(self.base_url) as client:
            k = 0
            while not self._stop.is_set():
                response = client.get(f"/v1/users/shopper-{k % 30:03d}/images",
                                      params={"n": 2, "seed": k})
                self.answers.append((response.status_code, response.headers.get("retry-after"),
                                     response.text))
                k += 1


def eventually_ok(client, path: str, attempts: int = 200) -> int:  # type: ignore[no-untyped-def]
    """The first status that is not 503, polling ``path`` (the pool reconnects on its own)."""
    status = 0
    for _ in range(attempts):
        status = client.get(path).status_code
        if status != 503:
            return status
        time.sleep(0.05)
    return status


@POSTGRES_ONLY
def test_postgres_cut_mid_traffic_gives_503_with_retry_after_then_heals(
        store_engine: Engine, tmp_path: Path) -> None:
    url = store_engine.url
    with TcpProxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(
            hide_password=False)
        app = create_app(api_settings(tmp_path, proxied))  # its own engine, through the proxy
        with LiveServer(app) as server, http_client(server) as client:
            urls = listed_urls(client, "shopper-001")
            assert client.get(urls[0]).status_code == 200
            with Traffic(server.url) as traffic:
                traffic.wait_for(3)
                before = len(traffic.answers)
                proxy.cut()  # PostgreSQL "stops": connections dropped, new ones refused
                traffic.wait_for(5)
                listing = client.get("/v1/users/shopper-002/images", params={"n": 2})
                ready = client.get("/readyz")
                made_before = client.get(urls[0])  # on disk already: needs no database
                during = traffic.answers[before:]
                proxy.restore()  # PostgreSQL is back
                traffic.wait_for(1)
            assert listing.status_code == 503, listing.text
            assert int(listing.headers["retry-after"]) > 0
            assert "database" in listing.json()["detail"]
            assert str(proxy.port) not in listing.text and "psycopg" not in listing.text
            assert ready.status_code == 503
            assert made_before.status_code == 200
            statuses = {status for status, _, _ in during}
            assert 503 in statuses and statuses <= {200, 503}, during
            assert all(retry for status, retry, _ in during if status == 503)
            # Healed without a restart: the same app answers again.
            assert eventually_ok(client, "/readyz") == 200
            assert client.get("/v1/users/shopper-002/images", params={"n": 2}).status_code == 200
            assert client.get(urls[1]).status_code == 200
            assert traffic.answers[-1][0] == 200


@POSTGRES_ONLY
def test_postgres_that_accepts_but_never_answers_gives_503_within_the_connect_timeout(
        store_engine: Engine, tmp_path: Path) -> None:
    """No hang: the connect timeout (PIGEN_POSTGRES_CONNECT_TIMEOUT_S) ends each attempt."""
    url = store_engine.url
    with TcpProxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(
            hide_password=False)
        app = create_app(api_settings(tmp_path, proxied, postgres_connect_timeout_s=1))
        with LiveServer(app) as server, http_client(server) as client:
            assert client.get("/v1/users/shopper-001/images").status_code == 200
            proxy.stall()
            stalled = client.get("/v1/users/shopper-002/images")  # bounded by HTTP_TIMEOUT_S
            assert stalled.status_code == 503, stalled.text
            assert int(stalled.headers["retry-after"]) > 0
            proxy.restore()
            assert eventually_ok(client, "/readyz") == 200
            assert client.get("/v1/users/shopper-002/images").status_code == 200
