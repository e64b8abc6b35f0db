"""The served ranking model: recommendations follow it, images never do.

The template store is an old one (a single ALS, kind "als"): it recommends from
that model until a ranking model is trained; then a ranking model swaps in and
out over the API while the images and the taste version stay as they were.
Runs on SQLite and PostgreSQL (the store fixtures).
"""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from pigen.data.model_registry import active_model_version
from pigen.recsys.config import ALSConfig
from pigen.service.auth import create_api_key
from pigen.service.recsys_serving import train_and_register

USER = "shopper-001"


def recommended(client: TestClient) -> tuple[int, list[str]]:
    body = client.get(f"/v1/users/{USER}/recommendations", params={"k": 5}).json()
    return body["model_version"], [r["item"]["item_id"] for r in body["items"]]


def image_ids(client: TestClient) -> list[str]:
    body = client.get(f"/v1/users/{USER}/images", params={"n": 3, "seed": 4}).json()
    return [image["image_id"] for image in body["images"]]


def test_ranking_models_swap_without_touching_images(make_client, store_engine: Engine,
                                                     tmp_path: Path
                                                     ) -> None:  # type: ignore[no-untyped-def]
    taste = active_model_version(store_engine, "als")
    assert taste is not None
    client = make_client()
    before = image_ids(client)
    assert recommended(client)[0] == taste.id  # an old store: the ALS version ranks
    assert "ranking" not in client.get("/v1/models").json()["serving"]

    popular = train_and_register(store_engine, tmp_path / "m", purpose="ranking",
                                 model="popularity")
    als = train_and_register(store_engine, tmp_path / "m", ALSConfig(factors=4, iterations=3),
                             purpose="ranking")
    admin = {"X-API-Key": create_api_key(store_engine, "admin")[0]}
    swapped = client.post("/v1/models", json={"id": als.id}, headers=admin)
    assert swapped.status_code == 200, swapped.text
    assert swapped.json()["serving"] == {"als": taste.id, "ranking": als.id,
                                         "generator": swapped.json()["serving"]["generator"]}
    assert recommended(client)[0] == als.id

    # Roll the ranking model back to the popularity version: served at once.
    rolled = client.post("/v1/models", json={"id": popular.id}, headers=admin).json()
    assert rolled["serving"]["ranking"] == popular.id and rolled["serving"]["als"] == taste.id
    version, items = recommended(client)
    assert version == popular.id and len(items) == 5
    assert image_ids(client) == before  # images name the taste and generator versions only


def test_a_restarted_service_serves_the_registered_ranking_model(
        make_client, store_engine: Engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ranking = train_and_register(store_engine, tmp_path / "m", purpose="ranking",
                                 model="popularity")
    client = make_client()
    assert client.get("/v1/models").json()["serving"]["ranking"] == ranking.id
    assert recommended(client)[0] == ranking.id
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.text


def test_a_ranking_model_that_cannot_be_served_degrades_to_the_taste_model(
        make_client, store_engine: Engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Its only version is truncated: recommendations come from taste, and /readyz,
    the metric and the fallback list say so (not a silent "ready")."""
    ranking = train_and_register(store_engine, tmp_path / "m", purpose="ranking",
                                 model="popularity")
    ranking.path.write_bytes(ranking.path.read_bytes()[:200])
    taste = active_model_version(store_engine, "als")
    assert taste is not None
    client = make_client()
    assert recommended(client)[0] == taste.id
    body = client.get("/readyz").json()
    assert body["status"] == "degraded", body
    assert [(f["kind"], f["active"], f["serving"], f["serving_kind"])
            for f in body["fallback"]] == [("ranking", ranking.id, taste.id, "als")]
    assert f"als {taste.id} instead of ranking {ranking.id}" in body["detail"]
    assert 'pigen_model_fallbacks_total{kind="ranking"} 1.0' in client.get("/metrics").text
