"""The admin page in headless Chromium: decisions, corrected intervals, guardrails, SRM per
dimension value, CUPED, the lift-over-time plot and two generators' samples side by side.
Saves a screenshot; with PIGEN_UPDATE_SCREENSHOTS=1 it becomes the README's
docs/experiment_admin.png (a test run must not rewrite tracked files)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine

from pigen.service.experiments import store
from pigen.service.experiments.assignment import Variant
from pigen.service.experiments.plan import AnalysisPlan

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
README_SCREENSHOT = Path(__file__).resolve().parents[3] / "docs" / "experiment_admin.png"


def seed_experiments(engine: Engine, old: int, new: int) -> None:
    """hero-image: conversion up, add-to-cart (a guardrail) down; generators: v1 vs current."""
    rng = np.random.default_rng(0)
    start = datetime.now(UTC) - timedelta(days=3)
    store.create_experiment(
        engine, "hero-image", [Variant("control", 1, {"mode": "catalog"}),
                               Variant("personalized", 1)],
        description="catalog photo vs generated image", salt="s",
        plan=AnalysisPlan(guardrails=("add_to_cart_rate",)))
    info = store.start_experiment(engine, "hero-image", now=start)
    events = 0
    for k in range(600):
        user = f"visitor-{k:03d}"
        at = start + timedelta(hours=k % 60)
        treated = info.design.variant_of(user).name == "personalized"
        store.log_exposure(engine, info.id, user, "personalized" if treated else "control",
                           at=at)
        happenings = []
        if k % 2 == 0:  # returning shoppers looked around before the start
            happenings.append(("view", 0.0, start - timedelta(days=2)))
        if rng.random() < (0.22 if treated else 0.08):
            happenings.append(("purchase", float(rng.integers(10, 60)), at + timedelta(hours=1)))
        if rng.random() < (0.15 if treated else 0.45):
            happenings.append(("add_to_cart", 0.0, at + timedelta(minutes=30)))
        for kind, value, when in happenings:
            events += 1
            store.record_event(engine, store.NewEvent(f"e{events}", user, kind, value=value,
                                                      occurred_at=when))
    store.log_exposure(engine, info.id, "visitor-000", "control", at=start)
    store.log_exposure(engine, info.id, "visitor-000", "personalized", at=start)
    store.create_experiment(
        engine, "generators", [Variant("control", 1, {"generator_version": old}),
                               Variant("treatment", 1, {"generator_version": new})],
        description="generator v1 vs the shipped generator", salt="g")
    gens = store.start_experiment(engine, "generators", now=start)
    for k in range(40):
        user = f"visitor-{k:03d}"
        store.log_exposure(engine, gens.id, user, gens.design.variant_of(user).name,
                           at=start + timedelta(hours=k))


@pytest.mark.slow
def test_admin_page_shows_decisions_guardrails_breakdown_and_samples(tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium")
    sync_api = pytest.importorskip("playwright.sync_api")
    from pigen.data.database import make_engine
    from pigen.data.migrate import upgrade_database
    from pigen.generator.shipped import PREVIOUS_GENERATORS, SHIPPED_GENERATOR
    from pigen.service.app import create_app
    from pigen.service.generator_serving import (
        ensure_generator_version,
        register_previous_generators,
    )
    from tests.service.api.conftest import api_settings, store_on, tiny_generator
    from tests.utils.live_server import LiveServer

    engine = make_engine(f"sqlite:///{tmp_path / 'pigen.db'}")
    upgrade_database(engine)
    store_on(engine, tmp_path / "models", tiny_generator(tmp_path / "g.safetensors"))
    register_previous_generators(engine, PREVIOUS_GENERATORS)
    shipped = ensure_generator_version(engine, SHIPPED_GENERATOR)
    v1 = next(v for v in store_versions(engine) if v.path.name == PREVIOUS_GENERATORS[0].name)
    seed_experiments(engine, v1.id, shipped.id)
    app = create_app(api_settings(tmp_path, str(engine.url)), engine=engine)
    with LiveServer(app) as server, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(server.url + "/admin")
            try:
                page.wait_for_selector("text=2 experiments loaded.", timeout=180_000)
            except sync_api.TimeoutError:
                raise AssertionError(page.inner_text("body")[:3000] + str(errors)) from None
            hero = page.locator("section[data-key='hero-image']")
            decision = hero.locator(".decision").inner_text()
            assert "personalized: do not ship" in decision and "add-to-cart rate" in decision
            rows = hero.locator("table.comparisons tbody tr")
            assert rows.count() == 6  # 5 planned metrics + the guardrail
            primary = rows.first.inner_text()
            assert "primary" in primary and "better" in primary
            assert "significantly worse" in hero.locator("ul.guardrails").inner_text()
            segments = hero.locator("table.breakdown tbody tr")
            assert segments.count() == 2 and "new" in segments.first.inner_text()
            assert "Bonferroni" in hero.locator("table.breakdown caption").inner_text()
            assert "consistent" in hero.locator(".heterogeneity").inner_text()
            assert "1 users exposed to more than one variant" in hero.locator(
                ".checks").inner_text()
            # Two generators' samples, side by side, every image decoded.
            figures = page.locator("section[data-key='generators'] .samples figure")
            figures.first.wait_for(timeout=60_000)
            assert figures.count() == 2
            page.wait_for_function(
                "() => { const i = [...document.querySelectorAll("
                "\"section[data-key='generators'] .samples img\")];"
                " return i.length === 8 && i.every(x => x.complete && x.naturalWidth > 0); }",
                timeout=120_000)
            captions = figures.locator("figcaption").all_inner_texts()
            assert captions == [f"control: generator v{v1.id}",
                                f"treatment: generator v{shipped.id}"]
            page.wait_for_function(
                "() => [...document.querySelectorAll('img.plot')].every("
                "i => i.complete && i.naturalWidth > 0)", timeout=60_000)
            # CUPED: both forms' variance removed, in one run.
            page.select_option("#cuped", "multi")
            page.click("button[type=submit]")
            page.wait_for_selector("section[data-key='hero-image'] table.cuped", timeout=60_000)
            cuped = page.locator("section[data-key='hero-image'] table.cuped tbody tr")
            assert cuped.count() == 3
            page.wait_for_function(
                "() => { const i = [...document.querySelectorAll('img')];"
                " return i.length >= 10 && i.every(x => x.complete && x.naturalWidth > 0); }",
                timeout=120_000)
            assert page.get_by_label("API key (only if reads need one)").count() == 1
            assert page.locator("th[scope='col']").count() >= 5
            screenshot = (README_SCREENSHOT if os.environ.get("PIGEN_UPDATE_SCREENSHOTS") == "1"
                          else tmp_path / "experiment_admin.png")
            page.screenshot(path=str(screenshot), full_page=True)
            assert screenshot.stat().st_size > 50_000
            assert errors == []
        finally:
            browser.close()
    engine.dispose()


def store_versions(engine: Engine) -> list:  # type: ignore[type-arg]
    from pigen.data.model_registry import list_model_versions

    return list_model_versions(engine, "generator")
