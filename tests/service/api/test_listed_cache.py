"""The listed-image cache as the app uses it: sized by settings, reported, optional."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient


def listed_cache_bytes(client: TestClient) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith("pigen_listed_cache_bytes "):
            return float(line.split()[1])
    raise AssertionError("no pigen_listed_cache_bytes in /metrics")


def test_listing_fills_the_cache_within_its_bytes(
        make_client: Callable[..., TestClient]) -> None:
    client = make_client(listed_cache_bytes=4096)
    assert listed_cache_bytes(client) == 0
    for seed in range(5):  # 5 x 8 images, far more than 4 KiB holds
        assert client.get("/v1/users/shopper-001/images",
                          params={"n": 8, "seed": seed}).status_code == 200
    assert 0 < listed_cache_bytes(client) <= 4096


def test_without_the_cache_a_listed_image_is_made_from_its_row(
        make_client: Callable[..., TestClient]) -> None:
    client = make_client(listed_cache_bytes=0)
    listing = client.get("/v1/users/shopper-001/images", params={"n": 2}).json()
    assert listed_cache_bytes(client) == 0
    image = client.get(listing["images"][0]["url"])
    assert image.status_code == 200 and image.content.startswith(b"\x89PNG")
