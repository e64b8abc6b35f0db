"""The admin page in headless Chromium: experiments, their results tables and the plot."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from pigen.service.experiments import store
from pigen.service.experiments.assignment import Variant
from pigen.service.settings import Settings

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def seed_experiments(engine: Engine) -> None:
    start = datetime.now(UTC) - timedelta(days=3)
    store.create_experiment(engine, "hero-image", [Variant("control", 1, {"mode": "catalog"}),
                                                   Variant("personalized", 1)],
                            description="catalog photo vs generated image", salt="s")
    info = store.start_experiment(engine, "hero-image", now=start)
    for k in range(200):
        user = f"shopper-{k:03d}"
        at = start + timedelta(hours=k % 60)
        store.log_exposure(engine, info.id, user, info.design.variant_of(user).name, at=at)
        if k % 5 == 0:
            store.record_event(engine, store.NewEvent(f"e{k}", user, "purchase", value=20.0,
                                                      occurred_at=at + timedelta(minutes=5)))
    store.log_exposure(engine, info.id, "shopper-000", "control", at=start)
    store.log_exposure(engine, info.id, "shopper-000", "personalized", at=start)
    store.create_experiment(engine, "diversity", [Variant("control", 1), Variant("wide", 1)])


@pytest.mark.slow
def test_admin_page_lists_experiments_with_results_and_plot(sqlite_engine: Engine,
                                                            tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium")
    sync_api = pytest.importorskip("playwright.sync_api")
    from pigen.service.app import create_app
    from tests.utils.live_server import LiveServer

    seed_experiments(sqlite_engine)
    app = create_app(Settings(storage_dir=tmp_path / "var", model_refresh_seconds=0),
                     engine=sqlite_engine)
    with LiveServer(app) as server, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(server.url + "/admin")
            page.wait_for_selector("text=2 experiments loaded.", timeout=30_000)
            rows = page.locator("#experiments tbody tr")
            assert rows.count() == 2
            assert any("hero-image" in text for text in rows.all_inner_texts())
            hero = page.locator("section[data-key='hero-image']")
            arms = hero.locator("table.arms tbody tr")
            assert arms.count() == 2
            assert "control (control)" in arms.first.inner_text()
            comparisons = hero.locator("table.comparisons tbody tr")
            assert comparisons.count() == 2  # conversion and revenue per user
            checks = hero.locator(".checks").inner_text()
            assert "1 users exposed to more than one variant" in checks
            plot = hero.locator("img.plot")
            plot.wait_for(timeout=30_000)
            page.wait_for_function(
                "() => { const i = document.querySelector(\"section[data-key='hero-image'] img\");"
                " return i && i.complete && i.naturalWidth > 0; }", timeout=30_000)
            assert "conversion lift" in (plot.get_attribute("alt") or "")
            # Accessibility basics: labelled controls, header cells with scope.
            assert page.get_by_label("API key (only if reads need one)").count() == 1
            assert page.locator("th[scope='col']").count() >= 5
            page.screenshot(path=str(tmp_path / "admin.png"), full_page=True)
            assert (tmp_path / "admin.png").stat().st_size > 10_000
            assert errors == []
        finally:
            browser.close()
