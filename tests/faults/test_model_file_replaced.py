"""A generator or ALS file replaced on disk under a running server: found by its sha256.

The registry keeps each file's sha256, and the loader checks the bytes it
parses against it, so a replaced file is never activated or half-loaded; a
served file replaced on disk is noticed by the refresh loop, which keeps serving
the copy in memory and says so (log, ``/readyz`` degraded, the fallback metric).
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine

from pigen.data.model_registry import (
    ModelVersionInfo,
    active_model_version,
    list_model_versions,
    register_model_version,
)
from pigen.recsys.als import ALSRecommender
from pigen.service.auth import create_api_key
from pigen.service.model_loading import ModelLoadError, load_checked

pytestmark = pytest.mark.slow

KINDS = ["als", "generator"]


def registered_copy(engine: Engine, kind: str, folder: Path) -> ModelVersionInfo:
    """A new, inactive version of ``kind``: a private copy of the active file, sha256 and all."""
    good = active_model_version(engine, kind)
    assert good is not None
    copy = folder / f"copy-{good.path.name}"
    shutil.copyfile(good.path, copy)
    config = {**good.config, "sha256": hashlib.sha256(copy.read_bytes()).hexdigest()}
    return register_model_version(engine, kind, copy, config, good.metrics, activate=False)


def replace_with_another_model(engine: Engine, version: ModelVersionInfo) -> None:
    """Valid weights, other values: a retrain copied over the registered file."""
    if version.kind == "als":
        from pigen.data.ratings_matrix import read_user_items
        from pigen.recsys.config import ALSConfig

        ratings = read_user_items(engine)
        config = ALSConfig(factors=8, iterations=3, regularization=0.5)
        ALSRecommender(config).fit(ratings.user_items, ratings.users, ratings.items).save(
            version.path)
    else:
        import torch

        from pigen.data.conditions import ConditionLayout
        from pigen.generator.checkpoint import save_generator
        from pigen.generator.config import GeneratorConfig
        from pigen.generator.models import build_generator

        torch.manual_seed(99)
        layout = ConditionLayout.builtin()
        save_generator(build_generator(GeneratorConfig.tiny(), layout).eval(), layout,
                       version.path)
    assert hashlib.sha256(version.path.read_bytes()).hexdigest() != version.config["sha256"]


def admin(engine: Engine) -> dict[str, str]:
    return {"X-API-Key": create_api_key(engine, "admin")[0]}


@pytest.mark.parametrize("kind", KINDS)
def test_a_replaced_file_is_refused_at_activation(make_client, store_engine: Engine,  # type: ignore[no-untyped-def]
                                                  tmp_path: Path, kind: str) -> None:
    client = make_client()
    serving = client.get("/v1/models").json()["serving"]
    version = registered_copy(store_engine, kind, tmp_path)
    replace_with_another_model(store_engine, version)
    before = [(v.id, v.is_active) for v in list_model_versions(store_engine)]
    response = client.post("/v1/models", json={"id": version.id}, headers=admin(store_engine))
    assert response.status_code == 409, response.text
    assert "changed since it was registered" in response.json()["detail"]
    assert str(tmp_path) not in response.text
    assert [(v.id, v.is_active) for v in list_model_versions(store_engine)] == before
    assert client.get("/v1/models").json()["serving"] == serving


def wait_for_status(client, status: str, attempts: int = 400) -> dict:  # type: ignore[no-untyped-def,type-arg]
    """Poll /readyz until ``status`` (the refresh loop runs every 0.05 s)."""
    body: dict = {}  # type: ignore[type-arg]
    for _ in range(attempts):
        body = client.get("/readyz").json()
        if body["status"] == status:
            return body
        time.sleep(0.05)
    return body


@pytest.mark.parametrize("kind", KINDS)
def test_a_served_file_replaced_on_disk_is_reported_and_the_loaded_copy_serves_on(
        make_client, store_engine: Engine, tmp_path: Path, kind: str,
        caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    version = registered_copy(store_engine, kind, tmp_path)
    original = version.path.read_bytes()
    client = make_client(model_refresh_seconds=0.05)
    activated = client.post("/v1/models", json={"id": version.id}, headers=admin(store_engine))
    assert activated.status_code == 200, activated.text
    url = client.get("/v1/users/shopper-009/images", params={"n": 1}).json()["images"][0]["url"]
    image = client.get(url).content
    assert wait_for_status(client, "ready")["status"] == "ready"

    with caplog.at_level(logging.ERROR):
        replace_with_another_model(store_engine, version)
        body = wait_for_status(client, "degraded")
    assert body["status"] == "degraded", body
    assert body["fallback"] == [{"kind": kind, "active": version.id, "serving": version.id,
                                 "problem": body["fallback"][0]["problem"], "serving_kind": ""}]
    assert "changed on disk" in body["fallback"][0]["problem"]
    assert str(tmp_path) not in str(body)
    assert any("changed on disk" in r.getMessage() for r in caplog.records)
    assert f'pigen_model_fallbacks_total{{kind="{kind}"}} 1.0' in client.get("/metrics").text
    # It serves on, from the copy it loaded: same version, same pictures.
    assert client.get("/v1/models").json()["serving"][kind] == version.id
    listed = client.get("/v1/users/shopper-009/images", params={"n": 1}).json()["images"]
    assert listed[0]["url"] == url
    assert client.get(url + "?size=64").status_code == 200
    assert client.get(url).content == image

    version.path.write_bytes(original)  # the operator puts the registered file back
    assert wait_for_status(client, "ready")["status"] == "ready"


def test_a_file_rewritten_while_it_loads_is_refused_or_loaded_whole(
        store_engine: Engine, tmp_path: Path) -> None:
    """Never half-loaded: each load is the registered model exactly, or a refusal."""
    version = registered_copy(store_engine, "als", tmp_path)
    good = version.path.read_bytes()
    expected = ALSRecommender.load(version.path).user_factors
    replace_with_another_model(store_engine, version)
    other = version.path.read_bytes()
    version.path.write_bytes(good)
    stop = threading.Event()

    def rewrite_in_place() -> None:  # no atomic rename: a reader can see any mix
        while not stop.is_set():
            for data in (other, good):
                with open(version.path, "r+b") as handle:
                    handle.write(data)
                    handle.truncate()

    writer = threading.Thread(target=rewrite_in_place)
    writer.start()
    outcomes = {"loaded": 0, "refused": 0}
    try:
        for _ in range(60):
            try:
                loaded = load_checked(version)
            except ModelLoadError:
                outcomes["refused"] += 1
                continue
            np.testing.assert_array_equal(loaded.user_factors, expected)
            outcomes["loaded"] += 1
    finally:
        stop.set()
        writer.join()
    assert outcomes["loaded"] + outcomes["refused"] == 60
