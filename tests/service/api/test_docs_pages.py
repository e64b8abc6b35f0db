"""/docs and /redoc work offline: their pages name no other host, their assets are ours."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from pigen.service.docs_pages import ASSETS_PATH
from tests.service.api.conftest import api_settings
from tests.utils.live_server import LiveServer

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CONTENT_TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png"}


@pytest.fixture
def app(sqlite_engine: Engine, tmp_path: Path):  # type: ignore[no-untyped-def]
    """The real app over an empty database: the docs need no store, nor models."""
    from pigen.service.app import create_app

    return create_app(api_settings(tmp_path, str(sqlite_engine.url)), engine=sqlite_engine)


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(app) as client:
        yield client


def referenced(html: str) -> list[str]:
    """Every URL the page loads (src/href attributes, and the ones its script names)."""
    return re.findall(r'(?:src|href)="([^"]+)"', html) + re.findall(r"url: '([^']+)'", html)


@pytest.mark.parametrize(("page", "marker"), [("/docs", "SwaggerUIBundle"),
                                              ("/redoc", "Redoc")])
def test_the_page_and_its_assets_are_served_locally(client: TestClient, page: str,
                                                    marker: str) -> None:
    response = client.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in response.headers["content-security-policy"]
    html = response.text
    assert "http://" not in html and "https://" not in html and "//cdn" not in html
    assets = [url for url in referenced(html) if url.startswith(ASSETS_PATH)]
    assert len(assets) >= 2  # a script and a favicon at least
    for url in referenced(html):
        assert url.startswith("/"), f"{page} loads {url} from elsewhere"
    scripts = []
    for url in assets:
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert CONTENT_TYPES[Path(url).suffix] in asset.headers["content-type"], url
        if url.endswith(".js"):
            scripts.append(asset.text)
    assert any(marker in script for script in scripts)


def test_swagger_ui_asks_no_validator_and_the_redirect_page_is_ours(client: TestClient) -> None:
    assert '"validatorUrl": null' in client.get("/docs").text
    assert client.get("/docs/oauth2-redirect").status_code == 200
    schema = client.get("/openapi.json").json()
    assert not any(path.startswith(("/docs", "/redoc")) for path in schema["paths"])


@pytest.mark.slow
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")
def test_docs_render_in_a_browser_that_cannot_leave_the_machine(app) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    with LiveServer(app) as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        elsewhere: list[str] = []
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))

        def only_ours(route) -> None:  # type: ignore[no-untyped-def]
            if route.request.url.startswith(server.url):
                route.continue_()
            else:  # offline: anything else fails, as it would without a network
                elsewhere.append(route.request.url)
                route.abort()

        page.route("**/*", only_ours)
        page.goto(f"{server.url}/docs")
        page.wait_for_selector(".swagger-ui .info .title", timeout=60_000)
        assert "pigen" in page.inner_text(".swagger-ui .info .title")
        assert page.locator(".opblock").count() > 10  # the operations are listed
        page.goto(f"{server.url}/redoc")
        page.wait_for_selector("h1", timeout=60_000)
        assert "pigen" in page.inner_text("h1")
        browser.close()
    assert elsewhere == [] and errors == []
