"""Liveness, readiness and metrics."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient


def test_health_and_ready(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "detail": None}
    assert client.get("/readyz").json()["status"] == "ready"


def test_not_ready_without_models_and_503_not_500(make_client, store_backend: str,  # type: ignore[no-untyped-def]
                                                   request: pytest.FixtureRequest) -> None:
    empty = request.getfixturevalue(f"{store_backend}_engine")  # migrated, nothing in it
    client = make_client(engine=empty)
    ready = client.get("/readyz")
    assert ready.status_code == 503 and "taste model" in ready.json()["detail"]
    assert client.get("/healthz").status_code == 200
    images = client.get("/v1/users/anyone/images")
    assert images.status_code == 503 and images.headers["retry-after"]


def test_metrics_exposition(client: TestClient) -> None:
    url = client.get("/v1/users/shopper-001/images", params={"n": 2}).json()["images"][0]["url"]
    client.get(url)
    client.get(url)
    text = client.get("/metrics").text
    assert 'pigen_http_request_duration_seconds_count{method="GET",' \
           'route="/v1/users/{user_id}/images",status="200"} 1.0' in text
    assert "pigen_generator_batch_size_count 1.0" in text
    assert "pigen_images_generated_total 1.0" in text
    assert 'pigen_image_cache_total{outcome="memory"} 1.0' in text


def test_root_redirects_to_the_demo_page(client: TestClient) -> None:
    response = client.get("/", follow_redirects=False)
    assert response.status_code == 307 and response.headers["location"] == "/demo/"
    assert client.get("/demo/").status_code == 200
