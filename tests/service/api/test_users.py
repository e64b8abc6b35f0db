"""Shoppers: the list, their ratings, their recommendations; failures are 422, never 5xx."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.service.api.conftest import N_USERS


def test_users_page_with_rating_counts(client: TestClient) -> None:
    first = client.get("/v1/users", params={"limit": 5}).json()
    assert first["total"] == N_USERS
    assert [u["user_id"] for u in first["users"]] == [f"shopper-{k:03d}" for k in range(5)]
    assert all(u["ratings"] == 8 for u in first["users"])
    second = client.get("/v1/users", params={"limit": 5, "offset": 5}).json()
    assert second["users"][0]["user_id"] == "shopper-005"
    assert client.get("/v1/users", params={"offset": 1000}).json()["users"] == []


def test_users_bad_parameters_are_422_with_a_message(client: TestClient) -> None:
    for params in ({"limit": 0}, {"limit": 501}, {"offset": -1}, {"limit": "many"}):
        response = client.get("/v1/users", params=params)
        assert response.status_code == 422, params
        assert "query." in response.json()["message"]


def test_ratings_of_known_and_unknown_shoppers(client: TestClient) -> None:
    known = client.get("/v1/users/shopper-003/ratings").json()
    assert known["known"] and len(known["ratings"]) == 8
    times = [r["occurred_at"] for r in known["ratings"]]
    assert times == sorted(times, reverse=True)
    assert known["ratings"][0]["item"]["category"]
    unknown = client.get("/v1/users/somebody-new/ratings").json()
    assert unknown == {"user_id": "somebody-new", "known": False, "ratings": []}


def test_recommendations_with_scores_and_reasons(client: TestClient) -> None:
    body = client.get("/v1/users/shopper-001/recommendations", params={"k": 4}).json()
    assert body["source"] == "model" and body["prior"] is False
    assert len(body["items"]) == 4
    scores = [i["score"] for i in body["items"]]
    assert scores == sorted(scores, reverse=True)
    rated = {r["item"]["item_id"] for r in
             client.get("/v1/users/shopper-001/ratings").json()["ratings"]}
    for item in body["items"]:
        assert item["item"]["item_id"] not in rated  # already rated items are not pushed
        assert {b["item_id"] for b in item["because"]} <= rated


def test_unknown_shopper_gets_the_popularity_prior(client: TestClient) -> None:
    body = client.get("/v1/users/new-visitor/recommendations").json()
    assert body["source"] == "prior" and body["prior"] is True
    assert len(body["items"]) == 10
    assert all(item["because"] == [] for item in body["items"])


def test_bad_user_ids_and_k(client: TestClient) -> None:
    assert client.get("/v1/users/shopper-001/recommendations",
                      params={"k": 0}).status_code == 422
    assert client.get("/v1/users/shopper-001/recommendations",
                      params={"k": 101}).status_code == 422
    for bad in ("..%2F..%2Fetc", "a b", "x" * 129, "%00"):
        assert client.get(f"/v1/users/{bad}/recommendations").status_code in (404, 422), bad
