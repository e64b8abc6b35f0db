"""Backpressure over HTTP: an image the generator cannot make in time is shed, not failed."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient


def test_an_image_past_its_deadline_is_503_with_retry_after_and_counted(
        make_client: Callable[..., TestClient]) -> None:
    # A deadline no forward can meet: every image that needs the generator is shed.
    client = make_client(batch_timeout_seconds=1e-6)
    listing = client.get("/v1/users/shopper-001/images", params={"n": 2}).json()
    response = client.get(listing["images"][0]["url"])
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) >= 1
    assert "deadline" in response.json()["detail"]
    metrics = client.get("/metrics").text
    assert 'pigen_shed_total{reason="deadline"} 1.0' in metrics
    assert "pigen_batch_queue_limit 256.0" in metrics
    assert "pigen_batch_queue_depth" in metrics
    # Requests that do not need the generator are served as usual.
    assert client.get("/v1/users/shopper-001/recommendations").status_code == 200


def test_with_room_and_time_the_same_image_is_served(
        make_client: Callable[..., TestClient]) -> None:
    client = make_client(batch_max_queue=4, batch_timeout_seconds=60)
    listing = client.get("/v1/users/shopper-001/images", params={"n": 2}).json()
    response = client.get(listing["images"][0]["url"])
    assert response.status_code == 200 and response.content.startswith(b"\x89PNG")
    assert "pigen_shed_total{" not in client.get("/metrics").text  # nothing shed
