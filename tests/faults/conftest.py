"""Fault tests serve the API tests' store: a copy per test, on SQLite and on PostgreSQL.

The fixtures are the API suite's (``tests/service/api/conftest.py``), imported so
these tests get the same catalog, ratings, trained ALS and tiny generator.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.service.api.conftest import (  # noqa: F401  (fixtures used by name)
    api_settings,
    make_client,
    postgres_store_template,
    store_backend,
    store_engine,
    store_template,
)
from tests.utils.live_server import LiveServer

#: Every HTTP call of a fault test gives up after this long: a hang fails the test.
HTTP_TIMEOUT_S = 60.0


def http_client(server: LiveServer | str) -> httpx.Client:
    base = server if isinstance(server, str) else server.url
    return httpx.Client(base_url=base, timeout=HTTP_TIMEOUT_S)


def listed_urls(client: httpx.Client, user_id: str, n: int = 2, seed: int = 0) -> list[str]:
    response = client.get(f"/v1/users/{user_id}/images", params={"n": n, "seed": seed})
    assert response.status_code == 200, response.text
    return [image["url"] for image in response.json()["images"]]


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []
