"""Two ``pigen serve`` processes on one PostgreSQL database and one image store.

The client alternates between them, as a load balancer would: the same image id
gives the same bytes from both, a model activated through one is served by the
other after its next refresh, exposures and events are counted once, and both
making the same new image at once leaves one intact file.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, func, select

from pigen.data.database import session_scope
from pigen.data.schema import Event, ExperimentExposure
from pigen.service.png_check import png_intact
from tests.faults.server_process import ServerProcess

ADMIN = {"X-API-Key": "replica-test-admin-key"}
REFRESH_S = 1.0
TIMEOUT_S = 60.0


def count(engine: Engine, table: type) -> int:
    with session_scope(engine) as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


def image_files(root: Path, image_id: str) -> list[Path]:
    return sorted(p for p in root.rglob(f"*{image_id}*") if p.is_file())


@pytest.mark.slow
@pytest.mark.parametrize("store_backend", [pytest.param("postgres", marks=pytest.mark.postgres)])
def test_two_replicas_share_one_database_and_one_image_store(store_engine: Engine,
                                                             tmp_path: Path) -> None:
    images = tmp_path / "images"
    settings = {"PIGEN_DATABASE_URL": store_engine.url.render_as_string(hide_password=False),
                "PIGEN_STORAGE_DIR": str(tmp_path / "var"), "PIGEN_IMAGE_CACHE_DIR": str(images),
                "PIGEN_API_KEYS": ADMIN["X-API-Key"],
                "PIGEN_MODEL_REFRESH_SECONDS": str(REFRESH_S)}
    with ServerProcess(tmp_path, settings) as one, ServerProcess(tmp_path, settings) as two, \
            httpx.Client(base_url=one.url, timeout=TIMEOUT_S) as a, \
            httpx.Client(base_url=two.url, timeout=TIMEOUT_S) as b:
        replicas = [a, b]

        # 1. The same listing from either names the same images, with the same bytes.
        ask = {"n": 3, "seed": 11}
        ids_a = [i["image_id"] for i in a.get("/v1/users/shopper-001/images", params=ask).json()[
            "images"]]
        ids_b = [i["image_id"] for i in b.get("/v1/users/shopper-001/images", params=ask).json()[
            "images"]]
        assert ids_a == ids_b and len(ids_a) == 3
        for k, image_id in enumerate(ids_a):
            first = replicas[k % 2].get(f"/v1/images/{image_id}.png")
            second = replicas[(k + 1) % 2].get(f"/v1/images/{image_id}.png")
            assert first.status_code == second.status_code == 200
            assert first.content == second.content and png_intact(first.content)

        # 2. Both make the same new image at once: every answer the same, one intact file.
        fresh = a.get("/v1/users/shopper-002/images", params={"n": 1, "seed": 99}).json()
        url = fresh["images"][0]["url"]
        fresh_id = fresh["images"][0]["image_id"]
        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(lambda k: replicas[k % 2].get(url), range(8)))
        assert {r.status_code for r in answers} == {200}
        assert len({r.content for r in answers}) == 1
        stored = image_files(images, fresh_id)
        assert len(stored) == 1, stored  # no second copy, no temporary file left
        assert stored[0].read_bytes() == answers[0].content and png_intact(answers[0].content)

        # 3. Events and exposures are counted once, whichever replica gets them.
        event = {"client_event_id": "replica-evt-1", "user_id": "shopper-003", "kind": "click"}
        with ThreadPoolExecutor(max_workers=4) as pool:
            posted = list(pool.map(lambda k: replicas[k % 2].post(
                "/v1/events", json=event, headers=ADMIN), range(4)))
        assert {r.status_code for r in posted} <= {200, 201}, [r.text for r in posted]
        assert sorted(r.json()["duplicate"] for r in posted) == [False, True, True, True]
        assert count(store_engine, Event) == 1
        experiment = {"key": "replicas", "variants": [
            {"name": "control", "weight": 1, "config": {"mode": "generated"}},
            {"name": "treated", "weight": 1, "config": {"mode": "generated"}}]}
        assert a.post("/v1/experiments", json=experiment, headers=ADMIN).status_code == 201
        assert b.post("/v1/experiments/replicas/start", headers=ADMIN).status_code == 200
        for k in range(4):
            listed = replicas[k % 2].get("/v1/users/shopper-004/images", params={"n": 1})
            assert listed.status_code == 200, listed.text
        assert count(store_engine, ExperimentExposure) == 1

        # 4. A model activated through one replica is served by the other after a refresh.
        versions = a.get("/v1/models", headers=ADMIN).json()
        serving = versions["serving"]["generator"]
        other = _second_generator_version(store_engine, tmp_path)
        assert other != serving
        activated = a.post("/v1/models", json={"id": other}, headers=ADMIN)
        assert activated.status_code == 200, activated.text
        assert activated.json()["serving"]["generator"] == other  # at once on the one asked
        deadline = time.monotonic() + 5 * REFRESH_S + 30  # a loaded box: generous
        while b.get("/v1/models", headers=ADMIN).json()["serving"]["generator"] != other:
            assert time.monotonic() < deadline, "the other replica never followed"
            time.sleep(REFRESH_S / 4)
        # Both now name (and make) images with the new generator, identically.
        ask = {"n": 2, "seed": 12}
        listed_a = a.get("/v1/users/shopper-005/images", params=ask).json()["images"]
        listed_b = b.get("/v1/users/shopper-005/images", params=ask).json()["images"]
        assert [i["image_id"] for i in listed_a] == [i["image_id"] for i in listed_b]
        assert b.get(listed_a[0]["url"]).content == a.get(listed_a[0]["url"]).content


def _second_generator_version(engine: Engine, folder: Path) -> int:
    """Register (not activate) a second generator: the same architecture, other weights."""
    import torch

    from pigen.data.conditions import ConditionLayout
    from pigen.generator.checkpoint import save_generator
    from pigen.generator.config import GeneratorConfig
    from pigen.generator.models import build_generator
    from pigen.service.generator_serving import ensure_generator_version

    torch.manual_seed(1)
    layout = ConditionLayout.builtin()
    model = build_generator(GeneratorConfig.tiny(), layout).eval()
    path = save_generator(model, layout, folder / "second-generator.safetensors")
    return ensure_generator_version(engine, path).id
