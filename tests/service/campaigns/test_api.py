"""``POST /v1/campaigns`` queues, a worker runs, ``GET /v1/campaigns/{id}`` reports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from pigen.service.campaigns.worker import CampaignWorker, WorkerOptions
from tests.service.api.conftest import api_settings

KEY = {"X-API-Key": "campaign-secret"}


@pytest.fixture
def client(store_engine: Engine, tmp_path: Path) -> Iterator[TestClient]:
    from pigen.service.app import create_app

    settings = api_settings(tmp_path, str(store_engine.url), api_keys=["campaign-secret"])
    with TestClient(create_app(settings, engine=store_engine)) as client:
        yield client


def work_off_the_queue(engine: Engine) -> CampaignWorker:
    """A worker, as `pigen worker --drain` runs it, in this process."""
    worker = CampaignWorker(engine, WorkerOptions(poll_seconds=0.05, device="cpu"))
    worker.run(drain=True)
    return worker


def test_create_queues_a_worker_runs_it(client: TestClient, store_engine: Engine,
                                        tmp_path: Path) -> None:
    created = client.post("/v1/campaigns", headers=KEY, json={
        "name": "bags", "segment": {"kind": "rated_category", "category": "Bag"},
        "images_per_user": 2, "shard_size": 4, "output": "bags-spring"})
    assert created.status_code == 202, created.text
    body = created.json()
    assert body["status"] == "queued" and body["progress"]["images_done"] == 0
    assert body["users"] == 11 and body["images"] == 22
    assert body["progress"]["shards_total"] == 3
    # A logical folder under the storage folder: no absolute server path leaks.
    assert body["output_dir"] == "campaigns/bags-spring"
    # The server generates nothing itself: the campaign waits for a worker.
    assert client.get(f"/v1/campaigns/{body['id']}").json()["status"] == "queued"
    assert work_off_the_queue(store_engine).runs_started == 1
    done = client.get(f"/v1/campaigns/{body['id']}").json()
    assert done["status"] == "completed", done
    assert done["progress"]["images_done"] == 22 and done["progress"]["fraction"] == 1.0
    assert done["manifest"] == "campaigns/bags-spring/manifest.parquet"
    storage = tmp_path / "var"
    assert (storage / done["manifest"]).is_file() and (storage / done["contact_sheet"]).is_file()


def test_create_without_start_waits_for_start(client: TestClient,
                                              store_engine: Engine) -> None:
    created = client.post("/v1/campaigns", headers=KEY, json={
        "name": "later", "segment": {"kind": "ids", "user_ids": ["a1", "b2"]},
        "start": False})
    assert created.status_code == 201
    campaign_id = created.json()["id"]
    assert work_off_the_queue(store_engine).runs_started == 0  # not queued: not run
    again = client.get(f"/v1/campaigns/{campaign_id}").json()
    assert again["status"] == "created" and again["progress"]["images_done"] == 0

    assert client.post(f"/v1/campaigns/{campaign_id}/start").status_code == 401
    started = client.post(f"/v1/campaigns/{campaign_id}/start", headers=KEY)
    assert started.status_code == 202 and started.json()["status"] == "queued"
    assert work_off_the_queue(store_engine).runs_started == 1
    done = client.get(f"/v1/campaigns/{campaign_id}").json()
    assert done["status"] == "completed" and done["progress"]["images_done"] == 8
    again = client.post(f"/v1/campaigns/{campaign_id}/start", headers=KEY)
    assert again.status_code == 409 and "is completed" in again.json()["detail"]
    assert client.post("/v1/campaigns/99/start", headers=KEY).status_code == 404


def test_errors(client: TestClient) -> None:
    bad = {"name": "x", "segment": {"kind": "rated_category", "category": "Hat"}}
    assert client.post("/v1/campaigns", json=bad).status_code == 401
    answer = client.post("/v1/campaigns", headers=KEY, json=bad)
    assert answer.status_code == 422 and "no item has category 'Hat'" in answer.json()["detail"]
    shape = client.post("/v1/campaigns", headers=KEY,
                        json={"name": "x", "segment": {"kind": "top_active", "n": 0}})
    assert shape.status_code == 422
    escape = client.post("/v1/campaigns", headers=KEY,
                         json={"name": "x", "segment": {"kind": "all"}, "output": "../../etc"})
    assert escape.status_code == 422
    assert client.get("/v1/campaigns/99").status_code == 404


def test_a_refused_output_folder_is_named_without_the_server_path(client: TestClient,
                                                                  tmp_path: Path) -> None:
    taken = tmp_path / "var" / "campaigns" / "taken"
    taken.mkdir(parents=True)
    (taken / "someone-else.txt").write_text("mine")
    response = client.post("/v1/campaigns", headers=KEY, json={
        "name": "x", "segment": {"kind": "all"}, "output": "taken", "start": False})
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert "campaigns/taken is not empty" in detail and str(tmp_path) not in detail
