"""Personalised images: lists, bytes, determinism, the cache and provenance."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from pigen.data.schema import GeneratedImage
from tests.service.api.conftest import app_of


def images_of(client: TestClient, user: str = "shopper-002", **params: object) -> dict:
    response = client.get(f"/v1/users/{user}/images", params={"n": 3, **params})
    assert response.status_code == 200, response.text
    return response.json()


def test_images_list_with_conditions_versions_and_reasons(client: TestClient) -> None:
    body = images_of(client)
    assert body["source"] == "model" and body["prior"] is False
    assert len(body["images"]) == 3
    assert body["explanation"]["items"]
    assert body["explanation"]["summary"].startswith("Made from your ratings of")
    image = body["images"][0]
    assert image["url"] == f"/v1/images/{image['image_id']}.png"
    assert set(image["condition"]) == {"category", "colour", "colour_name", "pattern", "vector"}
    assert image["condition"]["colour"].startswith("#")
    assert set(image["model_versions"]) == {"als", "generator"}
    assert image["source"] == "model"


def test_same_request_same_images_other_seed_other_images(client: TestClient) -> None:
    first, again = images_of(client, seed=5), images_of(client, seed=5)
    assert [i["image_id"] for i in first["images"]] == [i["image_id"] for i in again["images"]]
    other = images_of(client, seed=6)
    assert {i["image_id"] for i in other["images"]}.isdisjoint(
        i["image_id"] for i in first["images"])
    assert images_of(client, diversity=0)["images"][0]["condition"]["category"]


def test_unknown_shopper_gets_prior_images_never_an_error(client: TestClient) -> None:
    body = images_of(client, user="first-time-visitor")
    assert body["source"] == "prior" and body["prior"] is True
    assert "popular" in body["explanation"]["summary"]  # its items: the popular ones
    png = client.get(body["images"][0]["url"])
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")


def test_two_shoppers_with_identical_tastes_get_different_pictures(client: TestClient) -> None:
    # Two first-time visitors share one taste (the population prior) and one seed.
    first = images_of(client, user="visitor-a", seed=3)["images"]
    second = images_of(client, user="visitor-b", seed=3)["images"]
    assert first[0]["model_versions"] == second[0]["model_versions"]
    for mine, theirs in zip(first, second, strict=True):
        assert client.get(mine["url"]).content != client.get(theirs["url"]).content
    # ... while one shopper asking again with that seed gets the very same pictures.
    again = images_of(client, user="visitor-a", seed=3)["images"]
    assert [client.get(i["url"]).content for i in again] == \
        [client.get(i["url"]).content for i in first]


def test_limits_on_n_and_parameters(make_client) -> None:  # type: ignore[no-untyped-def]
    client = make_client(max_images_per_request=4)
    assert client.get("/v1/users/shopper-001/images", params={"n": 5}).status_code == 422
    assert "at most 4" in client.get("/v1/users/shopper-001/images",
                                     params={"n": 5}).json()["detail"]
    for params in ({"n": 0}, {"seed": -1}, {"diversity": -0.5}, {"diversity": 99}):
        assert client.get("/v1/users/shopper-001/images", params=params).status_code == 422


def test_image_bytes_png_webp_and_sizes(client: TestClient) -> None:
    image = images_of(client)["images"][0]
    png = client.get(image["url"])
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert png.headers["etag"] and "immutable" in png.headers["cache-control"]
    webp = client.get(image["webp_url"], params={"size": 128})
    assert webp.headers["content-type"] == "image/webp" and webp.content[8:12] == b"WEBP"
    import io

    from PIL import Image

    assert Image.open(io.BytesIO(client.get(image["url"], params={"size": 96}).content)
                      ).size == (96, 96)
    assert client.get(image["url"], params={"size": 513}).status_code == 422
    assert client.get(image["url"], params={"size": 31}).status_code == 422


def test_etag_gives_304(client: TestClient) -> None:
    url = images_of(client)["images"][0]["url"]
    etag = client.get(url).headers["etag"]
    again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""


def test_image_ids_are_validated_and_unknown_ids_are_404(client: TestClient) -> None:
    assert client.get("/v1/images/" + "0" * 32 + ".png").status_code == 404
    for bad in ("xyz", "0" * 31, "G" * 32, "..%2F..%2Fpigen.db", "0" * 33):
        assert client.get(f"/v1/images/{bad}.png").status_code in (404, 422), bad


def test_generated_once_cached_on_disk_with_provenance(client: TestClient, store_engine: Engine,
                                                       tmp_path: Path) -> None:
    image = images_of(client)["images"][0]
    first = client.get(image["url"]).content
    metrics = app_of(client).state.metrics
    assert metrics.images_generated._value.get() == 1
    assert client.get(image["url"]).content == first
    assert metrics.images_generated._value.get() == 1  # the second came from the cache
    files = list((tmp_path / "var" / "images").rglob("*.png"))
    assert [f.name for f in files] == [f"{image['image_id']}.png"]
    with store_engine.connect() as connection:
        row = connection.execute(select(GeneratedImage).where(
            GeneratedImage.content_key == image["image_id"])).one()
    assert row.seed == image["seed"] and row.source == "model"
    assert row.path == str(files[0]) and row.user_id is not None
    assert row.generator_version_id == image["model_versions"]["generator"]
    assert row.recsys_version_id == image["model_versions"]["als"]
    text = client.get("/metrics").text
    assert 'pigen_image_cache_total{outcome="miss"} 1.0' in text


def test_same_image_from_a_fresh_server_is_byte_identical(make_client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    one = make_client()
    image = images_of(one)["images"][0]
    first = one.get(image["url"]).content
    other = make_client(image_cache_dir=tmp_path / "other-cache")
    # Never listed by this server: made from the provenance row alone, identically.
    assert other.get(image["url"]).content == first
    assert images_of(other)["images"][0]["image_id"] == image["image_id"]


def test_concurrent_requests_for_one_image_generate_it_once(client: TestClient) -> None:
    images = images_of(client, n=4)["images"]
    urls = [img["url"] for img in images for _ in range(5)]
    # TestClient requests from several threads run concurrently on the app's loop.
    with ThreadPoolExecutor(max_workers=10) as pool:
        responses = list(pool.map(client.get, urls))
    assert all(r.status_code == 200 for r in responses)
    for k, response in enumerate(responses):
        assert response.content == responses[k - k % 5].content  # every caller, its image
    assert len({r.content for r in responses}) == 4
    metrics = app_of(client).state.metrics
    assert metrics.images_generated._value.get() == 4  # each made once
