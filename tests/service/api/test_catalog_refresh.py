"""Items ingested while the service runs are served after its next refresh, no restart."""

from __future__ import annotations

import time

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from pigen.data.ingest import ingest_catalog_frame
from pigen.data.items import catalog_stamp
from pigen.service.runtime import Runtime
from tests.service.api.conftest import N_ITEMS, app_of


def _refresh(client: TestClient) -> bool:
    runtime: Runtime = app_of(client).state.runtime
    return bool(client.portal.call(runtime.refresh))  # type: ignore[union-attr]


def test_an_item_ingested_after_start_is_served_after_a_refresh(client: TestClient,
                                                                store_engine: Engine) -> None:
    assert client.get("/v1/items/item-new").status_code == 404
    ingest_catalog_frame(store_engine, pd.DataFrame({
        "item_id": ["item-new"], "category": ["Dress"], "colour": ["#2471a3"],
        "pattern": ["striped"]}))
    assert _refresh(client) is True
    item = client.get("/v1/items/item-new")
    assert item.status_code == 200, item.text
    assert (item.json()["category"], item.json()["pattern"]) == ("Dress", "striped")
    assert client.get("/v1/items/item-000").status_code == 200  # the old ones stay
    # Shoppers are still served with the reloaded catalog.
    assert client.get("/v1/users/shopper-000/images", params={"n": 2}).status_code == 200


def test_an_item_without_colour_or_pattern_is_served_with_nulls(client: TestClient,
                                                                store_engine: Engine) -> None:
    ingest_catalog_frame(store_engine, pd.DataFrame({"item_id": ["plain"],
                                                     "category": ["Bag"]}))
    assert _refresh(client) is True
    item = client.get("/v1/items/plain")  # was a 500: NaN, not None, from pandas 3
    assert item.status_code == 200, item.text
    assert (item.json()["colour"], item.json()["pattern"]) == (None, None)


def test_a_refresh_without_catalog_changes_reloads_nothing(client: TestClient,
                                                            store_engine: Engine) -> None:
    runtime: Runtime = app_of(client).state.runtime
    served = runtime.current
    assert _refresh(client) is False
    assert runtime.current is served  # the same set object: nothing was rebuilt


def test_the_stamp_changes_with_every_added_item(store_engine: Engine) -> None:
    before = catalog_stamp(store_engine)
    assert before[0] == N_ITEMS
    ingest_catalog_frame(store_engine, pd.DataFrame({"item_id": ["x-1"], "category": ["Bag"]}))
    after = catalog_stamp(store_engine)
    assert after[0] == N_ITEMS + 1 and after != before


@pytest.mark.slow
def test_the_refresh_loop_picks_the_item_up_by_itself(make_client, store_engine: Engine) -> None:  # type: ignore[no-untyped-def]
    client = make_client(model_refresh_seconds=0.2)
    assert client.get("/v1/items/item-late").status_code == 404
    ingest_catalog_frame(store_engine, pd.DataFrame({"item_id": ["item-late"],
                                                     "category": ["Coat"]}))
    deadline = time.monotonic() + 120  # a generous bound on a busy machine, not a speed test
    while client.get("/v1/items/item-late").status_code == 404:
        assert time.monotonic() < deadline, "the refresh loop never reloaded the catalog"
        time.sleep(0.1)
    assert client.get("/v1/items/item-late").json()["category"] == "Coat"
