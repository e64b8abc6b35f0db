"""The experiments and events API on both databases (TestClient, no models needed)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from pigen.data.database import session_scope
from pigen.data.schema import ExperimentExposure
from pigen.service.app import create_app
from pigen.service.auth import create_api_key
from pigen.service.settings import Settings

ADMIN = {"X-API-Key": "admin-secret-for-tests"}
BODY = {"key": "hero", "description": "photo vs generated", "variants": [
    {"name": "control", "weight": 1, "config": {"mode": "catalog"}},
    {"name": "personalized", "weight": 1, "config": {"mode": "generated"}}]}


@pytest.fixture
def client(engine: Engine, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(storage_dir=tmp_path, api_keys=[ADMIN["X-API-Key"]])
    yield TestClient(create_app(settings, engine=engine))


def test_lifecycle_assignment_and_auth(client: TestClient, engine: Engine) -> None:
    assert client.post("/v1/experiments", json=BODY).status_code == 401
    write_key, _ = create_api_key(engine, "write")
    assert client.post("/v1/experiments", json=BODY,
                       headers={"X-API-Key": write_key}).status_code == 403
    created = client.post("/v1/experiments", json=BODY, headers=ADMIN)
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "draft" and "salt" not in created.json()
    assert client.post("/v1/experiments", json=BODY, headers=ADMIN).status_code == 409
    assert client.post("/v1/experiments/hero/stop", headers=ADMIN).status_code == 409
    assert client.post("/v1/experiments/hero/start", headers=ADMIN).json()["status"] == "running"
    assert client.post("/v1/experiments/nope/start", headers=ADMIN).status_code == 404

    write = {"X-API-Key": write_key}
    first = client.get("/v1/experiments/hero/assignment", headers=write,
                       params={"user_id": "alice", "expose": "true"}).json()
    again = client.get("/v1/experiments/hero/assignment", headers=write,
                       params={"user_id": "alice", "expose": "true"}).json()
    assert first["variant"] in ("control", "personalized") and first["in_experiment"]
    assert again["variant"] == first["variant"]
    assert (first["exposure_logged"], again["exposure_logged"]) == (True, False)
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(ExperimentExposure)) == 1
    assert client.get("/v1/experiments/nope/assignment",
                      params={"user_id": "alice"}).status_code == 404
    bad = client.get("/v1/experiments/hero/assignment", params={"user_id": "a b"})
    assert bad.status_code == 422 and "user_id" in bad.json()["message"]
    listed = client.get("/v1/experiments").json()["experiments"]
    assert [e["key"] for e in listed] == ["hero"]


def test_logging_an_exposure_needs_a_write_key(client: TestClient, engine: Engine) -> None:
    """Anyone may read an assignment; only a write key may record that it was shown."""
    client.post("/v1/experiments", json=BODY, headers=ADMIN)
    client.post("/v1/experiments/hero/start", headers=ADMIN)
    read_key, _ = create_api_key(engine, "read")
    ask = {"user_id": "fake-1", "expose": "true"}
    anonymous = client.get("/v1/experiments/hero/assignment", params=ask)
    assert anonymous.status_code == 401, anonymous.text
    assert "exposure" in anonymous.json()["detail"] and "write" in anonymous.json()["detail"]
    weak = client.get("/v1/experiments/hero/assignment", params=ask,
                      headers={"X-API-Key": read_key})
    assert weak.status_code == 403 and "needs 'write'" in weak.json()["detail"]
    looked_up = client.get("/v1/experiments/hero/assignment", params={"user_id": "fake-1"})
    assert looked_up.status_code == 200 and looked_up.json()["exposure_logged"] is False
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(ExperimentExposure)) == 0
    write_key, _ = create_api_key(engine, "write")
    logged = client.get("/v1/experiments/hero/assignment", params=ask,
                        headers={"X-API-Key": write_key})
    assert logged.status_code == 200 and logged.json()["exposure_logged"] is True
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(ExperimentExposure)) == 1


@pytest.mark.parametrize("change", [
    {"variants": BODY["variants"][:1]}, {"coverage": 2}, {"key": "Bad Key"},
    {"variants": [{"name": "a", "weight": 0}, {"name": "b", "weight": 1}]},
    {"variants": [{"name": "a", "weight": 1}, {"name": "a", "weight": 1}]}, {"extra": 1},
])
def test_bad_experiments_are_422(client: TestClient, change: dict) -> None:
    response = client.post("/v1/experiments", json=BODY | change, headers=ADMIN)
    assert response.status_code == 422, response.text


def test_events_idempotent_and_validated(client: TestClient) -> None:
    event = {"client_event_id": "evt-1", "user_id": "alice", "kind": "purchase",
             "value": 19.9, "item_id": "item-001", "occurred_at": "2026-01-02T10:00:00Z"}
    assert client.post("/v1/events", json=event).status_code == 401
    first = client.post("/v1/events", json=event, headers=ADMIN)
    assert first.status_code == 201 and first.json()["duplicate"] is False
    again = client.post("/v1/events", json=event, headers=ADMIN)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert client.post("/v1/events", json=event | {"value": 5.0},
                       headers=ADMIN).status_code == 409
    for bad in ({"kind": "refund"}, {"value": -1}, {"kind": "view", "client_event_id": "v"},
                {"occurred_at": "2026-01-02T10:00:00"}, {"user_id": ""}):
        response = client.post("/v1/events", json=event | {"client_event_id": "x"} | bad,
                               headers=ADMIN)
        assert response.status_code == 422, (bad, response.text)
        assert response.json().get("message") or response.json().get("detail")


def test_results_and_plot(client: TestClient) -> None:
    client.post("/v1/experiments", json=BODY, headers=ADMIN)
    client.post("/v1/experiments/hero/start", headers=ADMIN)
    for k in range(20):
        user = f"user-{k}"
        client.get("/v1/experiments/hero/assignment", params={"user_id": user, "expose": "1"},
                   headers=ADMIN)
        if k % 4 == 0:
            client.post("/v1/events", headers=ADMIN, json={
                "client_event_id": f"p{k}", "user_id": user, "kind": "purchase", "value": 10})
    results = client.get("/v1/experiments/hero/results")
    assert results.status_code == 200, results.text
    data = results.json()
    assert sum(a["users"] for a in data["arms"]) == 20
    assert sum(a["conversions"] for a in data["arms"]) == 5
    assert {c["metric"] for c in data["comparisons"]} == {
        "conversion", "revenue_per_user", "add_to_cart_rate", "average_order_value",
        "p90_order_value"}
    assert data["decisions"][0]["variant"] == "personalized"
    assert data["breakdown"]["dimension"] == "new_vs_returning"
    multi = client.get("/v1/experiments/hero/results", params={"cuped": "multi"}).json()
    assert multi["cuped"]["method"] == "multi" and "conversion" in multi["cuped"]["multi"]
    unknown = client.get("/v1/experiments/hero/results", params={"dimension": "salary"})
    assert unknown.status_code == 422 and "cannot break down by 'salary'" in unknown.text
    assert data["plot_url"] == "/v1/experiments/hero/plot.png" and data["timeline"]
    plot = client.get(data["plot_url"])
    assert plot.status_code == 200 and plot.headers["content-type"] == "image/png"
    assert plot.content[:4] == b"\x89PNG"
    assert client.get("/v1/experiments/nope/results").status_code == 404
    assert client.get("/v1/experiments/nope/plot.png").status_code == 404
    page = client.get("/admin")
    assert page.status_code == 200 and "<table" in page.text


def test_reads_need_a_key_when_configured(engine: Engine, tmp_path: Path) -> None:
    settings = Settings(storage_dir=tmp_path, api_keys=[ADMIN["X-API-Key"]],
                        require_read_key=True)
    client = TestClient(create_app(settings, engine=engine))
    assert client.get("/v1/experiments").status_code == 401
    assert client.get("/v1/experiments", headers=ADMIN).status_code == 200


@pytest.mark.parametrize(("config", "message"), [
    ({"n": 17}, "over the server's cap of 16"),
    ({"recsys_version": 1}, "recsys_version is not supported"),
])
def test_unservable_variant_configs_are_422_and_nothing_is_stored(
        client: TestClient, config: dict, message: str) -> None:
    body = BODY | {"variants": [BODY["variants"][0], {"name": "b", "weight": 1,
                                                      "config": config}]}
    response = client.post("/v1/experiments", json=body, headers=ADMIN)
    assert response.status_code == 422 and message in response.text, response.text
    assert client.get("/v1/experiments").json()["experiments"] == []


def test_the_analysis_plan_is_stored_and_validated(client: TestClient) -> None:
    plan = {"primary": "revenue_per_user", "secondary": ["conversion"],
            "guardrails": ["add_to_cart_rate"], "correction": "bh", "minimum_effect": 0.05}
    created = client.post("/v1/experiments", json=BODY | {"plan": plan}, headers=ADMIN)
    assert created.status_code == 201, created.text
    assert created.json()["plan"] == plan
    for bad in ({"primary": "happiness"}, {"correction": "bonferroni"},
                {"primary": "conversion", "secondary": ["conversion"]}, {"minimum_effect": 0}):
        response = client.post("/v1/experiments", json=BODY | {"key": "other", "plan": bad},
                               headers=ADMIN)
        assert response.status_code == 422, (bad, response.text)
    assert [e["key"] for e in client.get("/v1/experiments").json()["experiments"]] == ["hero"]
