"""Broken model files: refused with a clear 409, never activated, never a 500.

And at start-up an active version that will not load gives way to the last good
one, said by /readyz, the log and a metric; rollback through the API still works.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update

from pigen.data.database import session_scope
from pigen.data.model_registry import (
    ModelVersionInfo,
    activate_model_version,
    active_model_version,
    list_model_versions,
    register_model_version,
)
from pigen.data.schema import ModelVersion
from pigen.service import model_loading
from pigen.service.auth import create_api_key
from pigen.service.generator_serving import ensure_generator_version
from tests.service.api.conftest import app_of, tiny_generator


def truncated_als(engine: Engine, tmp_path: Path, activate: bool = False) -> ModelVersionInfo:
    """A new ALS version whose file is the first 300 bytes of a good one."""
    good = active_model_version(engine, "als")
    assert good is not None
    path = tmp_path / "als-truncated.npz"
    path.write_bytes(good.path.read_bytes()[:300])
    return register_model_version(engine, "als", path, good.config, good.metrics,
                                  activate=activate)


def random_generator(engine: Engine, tmp_path: Path, activate: bool = False
                     ) -> ModelVersionInfo:
    path = tmp_path / "random.safetensors"
    path.write_bytes(os.urandom(4096))
    return register_model_version(engine, "generator", path, {}, activate=activate)


def admin_key(engine: Engine) -> dict[str, str]:
    return {"X-API-Key": create_api_key(engine, "admin")[0]}


def assert_no_leak(text: str, tmp_path: Path) -> None:
    """Nothing a client cannot act on: no server path, no library hint."""
    assert str(tmp_path) not in text and "/tmp" not in text
    for hint in ("allow_pickle", "pickle", "Traceback", "SafetensorError", "BadZipFile",
                 "header too large"):
        assert hint not in text


@pytest.mark.parametrize("make_bad, says", [
    (truncated_als, "truncated or is not an .npz"),
    (random_generator, "truncated or is not a .safetensors"),
])
def test_a_broken_file_gets_409_naming_it_and_the_registry_is_unchanged(
        client: TestClient, store_engine: Engine, tmp_path: Path, make_bad, says: str
) -> None:  # type: ignore[no-untyped-def]
    bad = make_bad(store_engine, tmp_path)
    before = [(v.id, v.is_active) for v in list_model_versions(store_engine)]
    serving = client.get("/v1/models").json()["serving"]
    response = client.post("/v1/models", json={"id": bad.id}, headers=admin_key(store_engine))
    assert response.status_code == 409, response.text
    detail = response.json()["detail"]
    assert bad.path.name in detail and says in detail and "nothing changed" in detail
    assert_no_leak(detail, tmp_path)
    assert [(v.id, v.is_active) for v in list_model_versions(store_engine)] == before
    assert client.get("/v1/models").json()["serving"] == serving
    assert client.get("/readyz").json()["status"] == "ready"


def test_a_model_failing_its_smoke_inference_is_never_activated(
        client: TestClient, store_engine: Engine, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The file loads, but the test image fails: refused inside the activation's transaction."""
    new = ensure_generator_version(store_engine, tiny_generator(tmp_path / "g2.safetensors"))
    old = active_model_version(store_engine, "generator")
    assert old is not None and new.id != old.id and not new.is_active
    calls: list[int] = []

    def failing_smoke(loaded: object) -> None:
        calls.append(1)
        raise RuntimeError("NaN everywhere")

    monkeypatch.setattr(model_loading, "_smoke_generator", failing_smoke)
    response = client.post("/v1/models", json={"id": new.id}, headers=admin_key(store_engine))
    assert response.status_code == 409 and "failed a test inference" in response.json()["detail"]
    assert calls == [1]
    assert active_model_version(store_engine, "generator").id == old.id  # type: ignore[union-attr]
    assert client.get("/v1/models").json()["serving"]["generator"] == old.id


def test_a_failing_check_rolls_the_activation_back(store_engine: Engine) -> None:
    versions = list_model_versions(store_engine, "als")
    active = next(v for v in versions if v.is_active)

    def refuse(version: ModelVersionInfo) -> None:
        raise ValueError("no")

    with pytest.raises(ValueError, match="no"):
        activate_model_version(store_engine, active.id, check=refuse)
    assert active_model_version(store_engine, "als").id == active.id  # type: ignore[union-attr]


def test_start_up_with_a_broken_active_als_falls_back_and_says_so(
        make_client, store_engine: Engine, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    good = active_model_version(store_engine, "als")
    assert good is not None
    bad = truncated_als(store_engine, tmp_path, activate=True)  # e.g. a disk error since
    with caplog.at_level(logging.ERROR):
        client = make_client()
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.text
    body = ready.json()
    assert body["status"] == "degraded"
    assert body["fallback"] == [{"kind": "als", "active": bad.id, "serving": good.id,
                                 "problem": body["fallback"][0]["problem"], "serving_kind": ""}]
    assert "truncated" in body["fallback"][0]["problem"]
    assert_no_leak(ready.text, tmp_path)
    assert any("FALLBACK" in r.getMessage() and f"version {good.id}" in r.getMessage()
               for r in caplog.records)
    assert 'pigen_model_fallbacks_total{kind="als"} 1.0' in client.get("/metrics").text
    assert client.get("/v1/users/shopper-001/images", params={"n": 2}).status_code == 200
    models = client.get("/v1/models").json()
    assert models["serving"]["als"] == good.id
    # Rollback through the API: the bad one stops being active, the warning goes.
    rollback = client.post("/v1/models", json={"id": good.id}, headers=admin_key(store_engine))
    assert rollback.status_code == 200, rollback.text
    assert active_model_version(store_engine, "als").id == good.id  # type: ignore[union-attr]
    assert client.get("/readyz").json() == {"status": "ready", "detail": None, "fallback": []}


def test_start_up_with_a_broken_active_generator_falls_back(
        make_client, store_engine: Engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    good = active_model_version(store_engine, "generator")
    assert good is not None
    bad = random_generator(store_engine, tmp_path, activate=True)
    client = make_client()
    body = client.get("/readyz").json()
    assert body["status"] == "degraded"
    assert [(f["kind"], f["active"], f["serving"]) for f in body["fallback"]] == [
        ("generator", bad.id, good.id)]
    assert 'pigen_model_fallbacks_total{kind="generator"} 1.0' in client.get("/metrics").text
    listed = client.get("/v1/users/shopper-001/images", params={"n": 1}).json()["images"]
    assert listed[0]["model_versions"]["generator"] == good.id
    assert client.get(listed[0]["url"]).status_code == 200


def test_with_nothing_servable_rollback_through_the_api_still_works(
        make_client, store_engine: Engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Every ALS file unreadable at start: 503 for data, but POST /v1/models answers."""
    good = active_model_version(store_engine, "als")
    assert good is not None
    bad = truncated_als(store_engine, tmp_path, activate=True)
    moved = tmp_path / "restored" / good.path.name  # its file is "gone" at start-up
    with session_scope(store_engine) as session:
        session.execute(update(ModelVersion).where(ModelVersion.id == good.id)
                        .values(path=str(moved)))
    client = make_client()
    ready = client.get("/readyz")
    assert ready.status_code == 503 and "no als version can be served" in ready.json()["detail"]
    assert_no_leak(ready.text, tmp_path)
    assert client.get("/v1/models").status_code == 200
    admin = admin_key(store_engine)
    missing = client.post("/v1/models", json={"id": good.id}, headers=admin)
    assert missing.status_code == 409 and "missing" in missing.json()["detail"]
    assert active_model_version(store_engine, "als").id == bad.id  # type: ignore[union-attr]
    moved.parent.mkdir()
    shutil.copyfile(good.path, moved)  # the operator restores the file
    rollback = client.post("/v1/models", json={"id": good.id}, headers=admin)
    assert rollback.status_code == 200, rollback.text
    assert client.get("/readyz").json()["status"] == "ready"
    assert client.get("/v1/users/shopper-001/images", params={"n": 1}).status_code == 200


def test_refresh_refuses_a_broken_version_activated_elsewhere_and_says_it_once(
        make_client, store_engine: Engine, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    client = make_client(model_refresh_seconds=0.05)
    serving = client.get("/v1/models").json()["serving"]["als"]
    bad = truncated_als(store_engine, tmp_path)
    with caplog.at_level(logging.ERROR):
        activate_model_version(store_engine, bad.id)  # an old client, with no check
        time.sleep(0.6)  # several refreshes
    refusals = [r for r in caplog.records if "cannot be served" in r.getMessage()]
    assert len(refusals) == 1
    assert client.get("/v1/models").json()["serving"]["als"] == serving
    assert client.get("/v1/users/shopper-001/images", params={"n": 1}).status_code == 200



class _DownEngine:
    """An engine whose database is gone, with an error that names a server file."""

    def __init__(self, secret_path: Path) -> None:
        self.secret_path = secret_path

    def connect(self) -> None:
        from sqlalchemy.exc import OperationalError

        raise OperationalError("SELECT 1", {}, Exception(f"unable to open {self.secret_path}"))


def test_readyz_hides_database_errors_from_callers(client: TestClient, tmp_path: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    from pigen.service.api.deps import get_engine

    app = app_of(client)
    app.dependency_overrides[get_engine] = lambda: _DownEngine(tmp_path / "pigen.db")
    with caplog.at_level(logging.WARNING):
        ready = client.get("/readyz")
    app.dependency_overrides.clear()
    assert ready.status_code == 503
    assert ready.json()["detail"] == "the database does not answer"
    assert_no_leak(ready.text, tmp_path)
    assert any(str(tmp_path) in r.getMessage() for r in caplog.records)  # the operator's copy


def test_an_image_whose_generator_file_changed_gets_409_not_other_bytes(
        make_client, store_engine: Engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import torch

    from pigen.data.conditions import ConditionLayout
    from pigen.generator.checkpoint import save_generator
    from pigen.generator.config import GeneratorConfig
    from pigen.generator.models import build_generator

    client = make_client()
    admin = admin_key(store_engine)
    original = active_model_version(store_engine, "generator")
    assert original is not None
    path = tiny_generator(tmp_path / "g-old.safetensors")
    old = ensure_generator_version(store_engine, path)
    assert client.post("/v1/models", json={"id": old.id}, headers=admin).status_code == 200
    listed = client.get("/v1/users/shopper-002/images", params={"n": 1}).json()["images"]
    assert client.post("/v1/models", json={"id": original.id}, headers=admin).status_code == 200
    torch.manual_seed(5)  # the old version's file is overwritten with other weights
    layout = ConditionLayout.builtin()
    save_generator(build_generator(GeneratorConfig.tiny(), layout).eval(), layout, path)
    app_of(client).state.runtime._old_generators.clear()  # as after a restart
    fetched = client.get(listed[0]["url"])
    assert fetched.status_code == 409, fetched.text
    assert "changed since it was registered" in fetched.json()["detail"]
    assert_no_leak(fetched.text, tmp_path)
