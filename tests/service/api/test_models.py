"""Model versions over the API, and hot swaps that drop no request."""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from pigen.data.model_registry import activate_model_version, active_model_version
from pigen.recsys.config import ALSConfig
from pigen.service import imaging
from pigen.service.auth import create_api_key
from pigen.service.generator_serving import ensure_generator_version
from pigen.service.recsys_serving import train_and_register
from tests.service.api.conftest import app_of, tiny_generator


def second_als(engine: Engine, tmp_path: Path) -> tuple[int, int]:
    """(old, new) ALS version ids; the old one stays active."""
    old = active_model_version(engine, "als")
    assert old is not None
    new = train_and_register(engine, tmp_path / "models2", ALSConfig(factors=6, iterations=3))
    activate_model_version(engine, old.id)
    return old.id, new.id


def test_list_models(client: TestClient) -> None:
    body = client.get("/v1/models").json()
    assert set(body["serving"]) == {"als", "generator"}
    kinds = {v["kind"] for v in body["versions"]}
    assert kinds == {"als", "generator"}
    assert all(v["serving"] == (body["serving"][v["kind"]] == v["id"]) for v in body["versions"])
    assert all("/" not in v["file"] for v in body["versions"])  # no server paths leak


def test_activate_errors(client: TestClient, store_engine: Engine) -> None:
    admin = {"X-API-Key": create_api_key(store_engine, "admin")[0]}
    assert client.post("/v1/models", json={"id": 999}, headers=admin).status_code == 404
    assert client.post("/v1/models", json={"id": 0}, headers=admin).status_code == 422
    assert client.post("/v1/models", json={}, headers=admin).status_code == 422


def test_hot_swap_under_concurrent_requests(make_client, store_engine: Engine, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch
                                            ) -> None:  # type: ignore[no-untyped-def]
    """Requests holding the old model while the swap happens finish on it; none is dropped.

    The first ``HELD`` requests are stopped inside the image service, after they took
    their model set, until the swap has returned: the overlap is made, not hoped for.
    """
    old, new = second_als(store_engine, tmp_path)
    client = make_client()
    admin = {"X-API-Key": create_api_key(store_engine, "admin")[0]}
    assert client.get("/v1/models").json()["serving"]["als"] == old

    held = 4
    all_inside = threading.Barrier(held + 1)  # the held requests and this thread
    swapped = threading.Event()
    arrivals = itertools.count()
    in_flight = Counter()  # requests between taking their model set and finishing
    lock = threading.Lock()
    real_taste_for_user = imaging.taste_for_user

    def taste_for_user(*args, **kwargs):  # type: ignore[no-untyped-def]
        with lock:
            in_flight["now"] += 1
        try:
            if next(arrivals) < held:
                all_inside.wait(timeout=30)
                assert swapped.wait(timeout=30), "the swap never came"
            return real_taste_for_user(*args, **kwargs)
        finally:
            with lock:
                in_flight["now"] -= 1

    monkeypatch.setattr(imaging, "taste_for_user", taste_for_user)

    def shop(k: int) -> tuple[int, set[int | None]]:
        response = client.get(f"/v1/users/shopper-{k % 30:03d}/images",
                              params={"n": 2, "seed": k})
        versions = {i["model_versions"]["als"] for i in response.json().get("images", [])}
        return response.status_code, versions

    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(shop, k) for k in range(40)]
        all_inside.wait(timeout=30)  # HELD requests are mid-flight on the old model
        swap = client.post("/v1/models", json={"id": new}, headers=admin)
        with lock:
            in_flight_at_swap = in_flight["now"]
        swapped.set()
        futures += [pool.submit(shop, k) for k in range(40, 60)]
        results = [f.result() for f in futures]
    assert swap.status_code == 200, swap.text
    assert swap.json()["serving"]["als"] == new
    assert in_flight_at_swap >= held  # the swap happened under load
    assert all(status == 200 for status, _ in results)  # nothing dropped
    assert all(len(versions) == 1 for _, versions in results)  # one model per request
    served = [v for _, versions in results for v in versions]
    assert served.count(old) >= held and new in served  # both sides of the swap served
    assert set(served) <= {old, new}
    assert shop(1000)[1] == {new}
    assert active_model_version(store_engine, "als").id == new


def test_generator_swap_keeps_serving_images_of_the_old_one(
        make_client, store_engine: Engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    client = make_client()
    admin = {"X-API-Key": create_api_key(store_engine, "admin")[0]}
    listed = client.get("/v1/users/shopper-001/images", params={"n": 2}).json()["images"]
    old_generator = listed[0]["model_versions"]["generator"]
    weights = tiny_generator(tmp_path / "g2.safetensors")
    new_version = ensure_generator_version(store_engine, weights)
    assert client.post("/v1/models", json={"id": new_version.id}, headers=admin).status_code == 200
    # Listed before the swap, fetched after: made by the generator its row names.
    assert client.get(listed[0]["url"]).status_code == 200
    relisted = client.get("/v1/users/shopper-001/images", params={"n": 2}).json()["images"]
    assert relisted[0]["model_versions"]["generator"] == new_version.id != old_generator
    assert relisted[0]["image_id"] != listed[0]["image_id"]
    assert client.get(relisted[0]["url"]).status_code == 200


def test_replicas_follow_the_registry(make_client, store_engine: Engine,
                                      tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    old, new = second_als(store_engine, tmp_path)
    client = make_client(model_refresh_seconds=0.1)
    assert client.get("/v1/models").json()["serving"]["als"] == old
    activate_model_version(store_engine, new)  # e.g. `pigen recsys activate` elsewhere
    deadline = time.monotonic() + 10
    while client.get("/v1/models").json()["serving"]["als"] != new:
        assert time.monotonic() < deadline, "the server did not follow the registry"
        time.sleep(0.1)


def test_new_bytes_at_the_same_path_are_a_new_generator_version(tmp_path, store_engine) -> None:
    """An upgraded pigen ships new weights at the old path: they must not reuse the old id
    (images are cached under the version id)."""
    import torch

    from pigen.data.conditions import ConditionLayout
    from pigen.generator.checkpoint import save_generator
    from pigen.generator.config import GeneratorConfig
    from pigen.generator.models import build_generator
    from pigen.service.generator_serving import ensure_generator_version

    path = tmp_path / "shipped.safetensors"
    layout = ConditionLayout.builtin()
    torch.manual_seed(1)
    save_generator(build_generator(GeneratorConfig.tiny(), layout).eval(), layout, path)
    first = ensure_generator_version(store_engine, path)
    assert ensure_generator_version(store_engine, path).id == first.id  # idempotent
    torch.manual_seed(2)
    save_generator(build_generator(GeneratorConfig.tiny(), layout).eval(), layout, path)
    second = ensure_generator_version(store_engine, path)
    assert second.id != first.id and second.config["sha256"] != first.config["sha256"]


def test_a_version_whose_file_changed_is_refused_not_served_with_other_bytes(
        make_client, store_engine: Engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import torch

    from pigen.data.conditions import ConditionLayout
    from pigen.generator.checkpoint import save_generator
    from pigen.generator.config import GeneratorConfig
    from pigen.generator.models import build_generator

    client = make_client()
    path = tiny_generator(tmp_path / "old.safetensors")
    old = ensure_generator_version(store_engine, path)
    torch.manual_seed(3)
    layout = ConditionLayout.builtin()
    save_generator(build_generator(GeneratorConfig.tiny(), layout).eval(), layout, path)
    runtime = app_of(client).state.runtime
    with pytest.raises(ValueError, match="changed since it was registered"):
        runtime.generator_for(old.id)


def test_previous_shipped_generators_are_registered_inactive(store_engine: Engine,
                                                              tmp_path: Path) -> None:
    from pigen.data.model_registry import list_model_versions
    from pigen.service.generator_serving import register_previous_generators

    old = tiny_generator(tmp_path / "generator-v1.safetensors")
    register_previous_generators(store_engine, (old, tmp_path / "absent.safetensors"))
    register_previous_generators(store_engine, (old,))  # once per file and bytes
    rows = [v for v in list_model_versions(store_engine, "generator")
            if v.path.resolve() == old.resolve()]
    assert len(rows) == 1 and not rows[0].is_active
