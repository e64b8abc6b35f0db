"""A generator trained on a store's own catalog (3 categories, 2 patterns: not the
built-in 10 x 4) is registered, activated and serves shoppers' images over HTTP."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from pigen.data.ingest import ingest_catalog_frame, ingest_ratings_frame
from pigen.data.ingest.catalog import CatalogOptions
from pigen.data.model_registry import activate_model_version
from tests.conftest import sqlite_engine_at
from tests.service.api.conftest import api_settings
from tests.utils.photo_catalog import CATEGORIES, PATTERNS, draw_product, write_photo_catalog

pytestmark = pytest.mark.slow
N_ITEMS = 18


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    folder = tmp_path_factory.mktemp("photos")
    return folder, write_photo_catalog(folder, N_ITEMS)


@pytest.fixture(scope="module")
def catalog_weights(tmp_path_factory: pytest.TempPathFactory,
                    photos: tuple[Path, pd.DataFrame]) -> Path:
    """A tiny generator trained 4 steps on the photo catalog, through the Python API."""
    from pigen.generator.catalog_training import train_catalog_generator
    from pigen.generator.config import GeneratorConfig

    root = tmp_path_factory.mktemp("train")
    engine = sqlite_engine_at(root / "pigen.db")
    folder, frame = photos
    ingest_catalog_frame(engine, frame, options=CatalogOptions(images_dir=folder))
    config = GeneratorConfig.tiny(resolution=32, num_threads=1, device="cpu")
    result, _ = train_catalog_generator(engine, config, root / "run", root / "cache",
                                        evaluate=False, progress=False)
    engine.dispose()
    return result.weights


def ratings() -> pd.DataFrame:
    """Shopper s<k> loves category k % 3 and dislikes the others."""
    rows = []
    for u in range(12):
        for k in range(N_ITEMS):
            stars = 5.0 if k % 3 == u % 3 else 1.0
            if (k + u) % 2 == 0:
                rows.append((f"s{u}", f"p-{k:03d}", stars, 1_700_000_000 + 100 * u + k))
    return pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])


@pytest.fixture
def catalog_client(engine: Engine, tmp_path: Path, photos: tuple[Path, pd.DataFrame],
                   catalog_weights: Path) -> Iterator[TestClient]:
    from pigen.recsys.config import ALSConfig
    from pigen.service.app import create_app
    from pigen.service.generator_serving import ensure_generator_version
    from pigen.service.model_loading import load_checked
    from pigen.service.recsys_serving import train_and_register

    folder, frame = photos
    ingest_catalog_frame(engine, frame, options=CatalogOptions(images_dir=folder))
    ingest_ratings_frame(engine, ratings())
    train_and_register(engine, tmp_path / "models", ALSConfig(factors=4, iterations=5))
    version = ensure_generator_version(engine, catalog_weights)
    activate_model_version(engine, version.id, check=lambda v: load_checked(v, "cpu"))
    client = TestClient(create_app(api_settings(tmp_path, str(engine.url)), engine=engine))
    with client:
        yield client


def test_a_catalog_generator_serves_shoppers_in_its_own_names(catalog_client: TestClient
                                                              ) -> None:
    response = catalog_client.get("/v1/users/s1/images", params={"n": 6, "diversity": 0})
    assert response.status_code == 200, response.text
    images = response.json()["images"]
    assert {i["condition"]["category"] for i in images} <= set(CATEGORIES)
    assert {i["condition"]["pattern"] for i in images} <= set(PATTERNS)
    assert all(len(i["condition"]["vector"]) == 3 + 3 + 2 for i in images)
    png = catalog_client.get(images[0]["url"])
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    unknown = catalog_client.get("/v1/users/a-new-visitor/images", params={"n": 2})
    assert unknown.status_code == 200
    assert catalog_client.get(unknown.json()["images"][0]["url"]).status_code == 200


def test_explicit_conditions_use_the_catalog_layout(catalog_client: TestClient,
                                                    engine: Engine) -> None:
    from pigen.service.auth import create_api_key

    key = {"X-API-Key": create_api_key(engine, "write")[0]}
    good = {"conditions": [{"category": "vase", "colour": "#1f618d", "pattern": "striped"}]}
    response = catalog_client.post("/v1/generate", json=good, headers=key)
    assert response.status_code == 200, response.text
    assert catalog_client.get(response.json()["images"][0]["url"]).status_code == 200
    builtin = {"conditions": [{"category": "Dress", "colour": "#1f618d", "pattern": "solid"}]}
    refused = catalog_client.post("/v1/generate", json=builtin, headers=key)
    assert refused.status_code == 422 and "bowl, lamp, vase" in refused.text


def test_catalog_names_the_generator_lacks_drop_out_with_a_warning(
        engine: Engine, tmp_path: Path, catalog_client: TestClient,
        caplog: pytest.LogCaptureFixture) -> None:
    folder = tmp_path / "more"
    folder.mkdir()
    draw_product("vase", "#1e8449", "plain", seed=99).save(folder / "chair.png")
    ingest_catalog_frame(engine, pd.DataFrame([{
        "item_id": "chair-1", "category": "chair", "colour": "#1e8449", "pattern": "woven",
        "image": "chair.png"}]), options=CatalogOptions(images_dir=folder))
    runtime = catalog_client.app.state.runtime  # type: ignore[attr-defined]
    with caplog.at_level(logging.WARNING, logger="pigen.service.runtime"):
        assert runtime._follow_catalog()
    assert "lacks catalog names" in caplog.text and "chair" in caplog.text
    response = catalog_client.get("/v1/users/s0/images", params={"n": 4})
    assert response.status_code == 200
    assert {i["condition"]["category"] for i in response.json()["images"]} <= set(CATEGORIES)


def test_a_campaign_runs_on_the_catalog_generator(catalog_client: TestClient, engine: Engine,
                                                  tmp_path: Path) -> None:
    """Batch campaigns take the catalog's layout too: every image in its own names."""
    import pyarrow.parquet as pq
    from PIL import Image

    from pigen.service.campaigns.definition import CampaignSpec, parse_segment
    from pigen.service.campaigns.runner import run_campaign
    from pigen.service.campaigns.store import create_campaign

    out = tmp_path / "campaign"
    campaign = create_campaign(engine, CampaignSpec(
        name="own-catalog", segment=parse_segment("all"), output_dir=out, images_per_user=2,
        shard_size=5, batch_size=8))
    report = run_campaign(engine, campaign.id)
    assert report.images_made == 2 * campaign.n_users > 0
    manifest = pq.read_table(out / "manifest.parquet").to_pandas()
    assert set(manifest["category"]) <= set(CATEGORIES)
    assert set(manifest["pattern"]) <= set(PATTERNS)
    assert set(manifest["generator_version_id"]) == {campaign.generator.id}
    first = out / manifest["image_path"].iloc[0]
    assert Image.open(first).size[0] >= 32


def test_an_experiment_serves_the_catalog_generator_against_photos(
        catalog_client: TestClient, engine: Engine) -> None:
    """A/B on a store's own catalog: the generated arm speaks the catalog's names."""
    from pigen.service.auth import create_api_key

    admin = {"X-API-Key": create_api_key(engine, "admin")[0]}
    body = {"key": "own-hero", "variants": [
        {"name": "photo", "weight": 1, "config": {"mode": "catalog"}},
        {"name": "made", "weight": 1, "config": {"mode": "generated"}}]}
    assert catalog_client.post("/v1/experiments", json=body, headers=admin).status_code == 201
    assert catalog_client.post("/v1/experiments/own-hero/start",
                               headers=admin).status_code == 200
    seen = set()
    for u in range(12):
        response = catalog_client.get(f"/v1/users/s{u}/images", params={"n": 3})
        assert response.status_code == 200, response.text
        listed = response.json()
        seen.add(listed["variant"])
        if listed["variant"] == "own-hero:made":
            assert {i["condition"]["category"] for i in listed["images"]} <= set(CATEGORIES)
            assert catalog_client.get(listed["images"][0]["url"]).status_code == 200
        else:
            assert listed["images"] == [] and len(listed["catalog_items"]) > 0
    assert seen == {"own-hero:photo", "own-hero:made"}
