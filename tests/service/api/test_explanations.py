"""The sentence under a shopper's images says why, including "nothing left to show"."""

from __future__ import annotations

import pandas as pd
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from pigen.data.ingest import ingest_ratings_frame
from pigen.service.experiments import store
from pigen.service.experiments.assignment import Variant
from pigen.service.explanations import NO_RATINGS, NOTHING_LEFT
from tests.service.api.conftest import N_ITEMS


def _catalog_control_for_everyone(engine: Engine) -> None:
    store.create_experiment(engine, "photos", [Variant("a", 0.5, {"mode": "catalog"}),
                                               Variant("b", 0.5, {"mode": "catalog"})],
                            salt="fixed")
    store.start_experiment(engine, "photos")


def test_a_shopper_who_rated_everything_is_told_so(client: TestClient,
                                                    store_engine: Engine) -> None:
    ingest_ratings_frame(store_engine, pd.DataFrame({
        "user_id": "completist", "item_id": [f"item-{k:03d}" for k in range(N_ITEMS)],
        "rating": [5.0 if k % 2 else 2.0 for k in range(N_ITEMS)]}))
    _catalog_control_for_everyone(store_engine)
    body = client.get("/v1/users/completist/images", params={"n": 4}).json()
    assert body["catalog_items"] == []  # every item is rated: none left to recommend
    assert body["source"] != "prior"
    assert body["explanation"]["summary"] == NOTHING_LEFT
    assert "No ratings" not in body["explanation"]["summary"]


def test_a_new_shopper_is_still_told_they_have_no_ratings(client: TestClient,
                                                          store_engine: Engine) -> None:
    _catalog_control_for_everyone(store_engine)
    body = client.get("/v1/users/newcomer/images", params={"n": 4}).json()
    assert body["source"] == "prior" and len(body["catalog_items"]) == 4
    assert body["explanation"]["summary"] == NO_RATINGS
