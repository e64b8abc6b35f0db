"""Explicit conditions for merchandisers."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from pigen.service.auth import create_api_key


@pytest.fixture
def write_key(store_engine: Engine) -> dict[str, str]:
    return {"X-API-Key": create_api_key(store_engine, "write")[0]}


def test_generate_explicit_conditions(client: TestClient, write_key: dict[str, str]) -> None:
    body = {"conditions": [
        {"category": "Dress", "colour": "#c0392b", "pattern": "striped", "seed": 1, "n": 2},
        {"category": "Bag", "colour": "#2471A3", "pattern": "dotted"}]}
    response = client.post("/v1/generate", json=body, headers=write_key)
    assert response.status_code == 200, response.text
    images = response.json()["images"]
    assert [i["condition"]["category"] for i in images] == ["Dress", "Dress", "Bag"]
    assert images[0]["condition"]["colour"] == "#c0392b"
    assert images[0]["source"] is None and images[0]["model_versions"]["als"] is None
    assert images[0]["seed"] != images[1]["seed"]
    again = client.post("/v1/generate", json=body, headers=write_key).json()["images"]
    assert [i["image_id"] for i in again] == [i["image_id"] for i in images]
    assert client.get(images[2]["url"]).content.startswith(b"\x89PNG")


@pytest.mark.parametrize("condition", [
    {"category": "Spaceship", "colour": "#c0392b", "pattern": "striped"},
    {"category": "Dress", "colour": "#c0392b", "pattern": "paisley"},
    {"category": "Dress", "colour": "red", "pattern": "striped"},
    {"category": "Dress", "colour": "#c0392b", "pattern": "striped", "n": 17},
    {"category": "Dress", "colour": "#c0392b", "pattern": "striped", "extra": 1},
])
def test_bad_conditions_are_422(client: TestClient, write_key: dict[str, str],
                                condition: dict) -> None:
    response = client.post("/v1/generate", json={"conditions": [condition]}, headers=write_key)
    assert response.status_code == 422, response.text


def test_too_many_images_and_too_big_bodies(make_client, store_engine: Engine) -> None:  # type: ignore[no-untyped-def]
    client = make_client(max_images_per_request=4, max_body_bytes=2048)
    key = {"X-API-Key": create_api_key(store_engine, "write")[0]}
    five = {"conditions": [{"category": "Dress", "colour": "#c0392b", "pattern": "striped",
                            "n": 5}]}
    response = client.post("/v1/generate", json=five, headers=key)
    assert response.status_code == 422 and "at most 4" in response.json()["detail"]
    huge = {"conditions": [{"category": "x" * 4000, "colour": "#c0392b", "pattern": "solid"}]}
    assert client.post("/v1/generate", json=huge, headers=key).status_code == 413
    assert client.post("/v1/generate", content=b"{not json", headers={
        **key, "Content-Type": "application/json"}).status_code == 422
