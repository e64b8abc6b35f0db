"""New ratings: stored, and folded in so the shopper's next images follow them (no refit).

Runs on SQLite and PostgreSQL: this is the API's one write path for shoppers.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from pigen.data.history import read_user_history
from pigen.service.auth import create_api_key


@pytest.fixture
def served(store_engine: Engine, client: TestClient) -> tuple[TestClient, dict[str, str], Engine]:
    return client, {"X-API-Key": create_api_key(store_engine, "write")[0]}, store_engine


def test_ratings_fold_in_and_change_the_next_images(served) -> None:  # type: ignore[no-untyped-def]
    client, key, engine = served
    before = client.get("/v1/users/shopper-004/images", params={"n": 4}).json()
    assert before["source"] == "model"
    # Five stars for four Trousers: the shopper's taste moves, without refitting ALS.
    ratings = [{"user_id": "shopper-004", "item_id": f"item-{k:03d}", "value": 5.0}
               for k in range(3, 24, 6)]
    response = client.post("/v1/interactions", json={"interactions": ratings}, headers=key)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["stored"] == len(ratings) and body["duplicates"] == 0
    assert body["users"] == [{"user_id": "shopper-004", "source": "folded",
                              "ratings": 8 + len(ratings)}]
    after = client.get("/v1/users/shopper-004/images", params={"n": 4}).json()
    assert after["source"] == "folded"
    assert [i["image_id"] for i in after["images"]] != [i["image_id"] for i in before["images"]]
    assert {i["item"]["item_id"] for i in after["explanation"]["items"]} & {
        r["item_id"] for r in ratings}
    assert len(read_user_history(engine, "shopper-004")) == 8 + len(ratings)


def test_a_new_shopper_is_created_by_their_first_rating(served) -> None:  # type: ignore[no-untyped-def]
    client, key, _ = served
    assert client.get("/v1/users/newcomer/images").json()["source"] == "prior"
    event = {"user_id": "newcomer", "item_id": "item-005", "value": 5, "occurred_at": 1_800_000_000}
    response = client.post("/v1/interactions", json={"interactions": [event]}, headers=key)
    assert response.json()["users"][0]["source"] == "folded"
    assert client.get("/v1/users/newcomer/images").json()["source"] == "folded"
    again = client.post("/v1/interactions", json={"interactions": [event]}, headers=key).json()
    assert again["stored"] == 0 and again["duplicates"] == 1  # a retried POST adds nothing


def test_bad_interactions_are_422_and_write_nothing(served) -> None:  # type: ignore[no-untyped-def]
    client, key, engine = served
    good = {"user_id": "shopper-001", "item_id": "item-001", "value": 4}
    unknown_item = {"user_id": "shopper-001", "item_id": "no-such-item", "value": 4}
    response = client.post("/v1/interactions", json={"interactions": [good, unknown_item]},
                           headers=key)
    assert response.status_code == 422 and "no-such-item" in response.json()["detail"]
    assert len(read_user_history(engine, "shopper-001")) == 8  # all or nothing
    for bad in ({**good, "kind": "like"}, {**good, "value": "NaN"}, {**good, "user_id": ""},
                {**good, "occurred_at": -5}, {"user_id": "a"}):
        assert client.post("/v1/interactions", json={"interactions": [bad]},
                           headers=key).status_code == 422, bad
    assert client.post("/v1/interactions", json={"interactions": []},
                       headers=key).status_code == 422
