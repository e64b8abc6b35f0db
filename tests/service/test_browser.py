"""The demo storefront in headless Chromium: pick a shopper, see three columns, rate, watch
the generated images change. Saves a screenshot (var/test-artifacts/demo_storefront.png)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.utils.live_server import LiveServer

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "test-artifacts"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed"),
]


@pytest.fixture
def served_store(tmp_path: Path):  # type: ignore[no-untyped-def]
    from pigen.data.database import make_engine
    from pigen.data.migrate import upgrade_database
    from pigen.service.app import create_app
    from pigen.service.auth import create_api_key
    from tests.service.api.conftest import api_settings, store_on, tiny_generator

    engine = make_engine(f"sqlite:///{tmp_path / 'pigen.db'}")
    upgrade_database(engine)
    store_on(engine, tmp_path / "models", tiny_generator(tmp_path / "g.safetensors"))
    key, _ = create_api_key(engine, "write", "browser test")
    app = create_app(api_settings(tmp_path, str(engine.url)), engine=engine)
    with LiveServer(app) as server:
        yield server, key
    engine.dispose()


def generated_ids(page) -> list[str]:  # type: ignore[no-untyped-def]
    return page.eval_on_selector_all("#made li", "els => els.map(e => e.dataset.image)")


def wait_images_loaded(page) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_function("""() => {
        const imgs = [...document.querySelectorAll('#made img')];
        return imgs.length === 6 && imgs.every(i => i.complete && i.naturalWidth > 0);
    }""", timeout=30_000)


def test_demo_page_pick_rate_and_watch_images_change(served_store) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    server, key = served_store
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{server.url}/demo/?user=shopper-004#key={key}")

        # 1. the shopper is chosen, three columns fill, each with its "why"
        page.wait_for_selector("#made li img")
        wait_images_loaded(page)
        assert page.input_value("#shopper") == "shopper-004"
        assert "#key=" not in page.url  # the key leaves the address bar
        assert page.locator("#rated li.card").count() == 8
        assert page.locator("#recs li.card").count() == 8
        assert "because you rated" in page.locator("#recs li").first.inner_text()
        assert page.inner_text("#why").startswith("Made from your ratings of")
        before = generated_ids(page)

        # 2. accessible basics: labelled controls, alt text on every image
        assert page.locator("label[for=shopper]").count() == 1
        assert page.eval_on_selector_all("img", "els => els.every(e => e.alt)")
        assert page.get_attribute("#status", "aria-live") == "polite"

        # 3. rate a recommended item five stars: the images follow, without a refit
        first_rec = page.locator("#recs li.card").first
        item = first_rec.get_attribute("data-item")
        first_rec.get_by_role("button", name=f"Rate {item} 5 stars").click()
        page.wait_for_function(
            "before => { const ids = [...document.querySelectorAll('#made li')]"
            ".map(e => e.dataset.image); return ids.length === 6 && "
            "ids.join() !== before.join(); }", arg=before, timeout=30_000)
        wait_images_loaded(page)
        assert "folded in" in page.inner_text("#why")
        assert item in page.locator("#rated").inner_text()  # the new rating is listed

        # 4. another shopper, and a visitor nobody knows (the prior, flagged)
        page.select_option("#shopper", "new-visitor")
        page.wait_for_function("() => document.querySelector('#why').textContent"
                               ".includes('popular')", timeout=30_000)
        wait_images_loaded(page)
        assert page.locator("#made .badge").first.inner_text() == "popular prior"
        page.select_option("#shopper", "shopper-004")
        wait_images_loaded(page)

        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shot = ARTIFACTS / "demo_storefront.png"
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert shot.stat().st_size > 10_000
    assert errors == []
