"""Image requests inside a running experiment: served per variant, exposure logged once."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from pigen.service.experiments import store
from pigen.service.experiments.assignment import Variant

USERS = [f"shopper-{u:03d}" for u in range(30)]


def _start(engine: Engine, control: dict, treatment: dict) -> None:
    store.create_experiment(engine, "imagery", [Variant("control", 0.5, control),
                                                Variant("personalized", 0.5, treatment)],
                            salt="fixed")
    store.start_experiment(engine, "imagery")


def test_each_shopper_is_served_their_variant(client: TestClient, store_engine: Engine) -> None:
    _start(store_engine, {"mode": "catalog"}, {"mode": "generated", "diversity": 0.0})
    seen = {}
    for user in USERS:
        body = client.get(f"/v1/users/{user}/images", params={"n": 2}).json()
        variant = body["variant"]
        seen[user] = variant
        if variant == "imagery:control":
            assert body["images"] == [] and len(body["catalog_items"]) == 2
        else:
            assert variant == "imagery:personalized"
            assert len(body["images"]) == 2 and body["catalog_items"] is None
            # diversity 0 from the variant: both images share the favourite condition
            first, second = (i["condition"] for i in body["images"])
            assert first["category"] == second["category"]
    assert set(seen.values()) == {"imagery:control", "imagery:personalized"}
    # Sticky: asking again gives every shopper the same variant.
    for user in USERS[:5]:
        assert client.get(f"/v1/users/{user}/images").json()["variant"] == seen[user]


def test_exposure_is_logged_once_per_shopper(client: TestClient, store_engine: Engine) -> None:
    _start(store_engine, {"mode": "catalog"}, {"mode": "generated"})
    for _ in range(3):
        for user in USERS[:10]:
            assert client.get(f"/v1/users/{user}/images").status_code == 200
    experiment = store.get_experiment(store_engine, "imagery")
    exposures = store.load_exposures(store_engine, experiment.id)
    assert sorted(e.user_id for e in exposures) == sorted(USERS[:10])


def test_outside_any_running_experiment_nothing_is_logged(client: TestClient,
                                                          store_engine: Engine) -> None:
    store.create_experiment(store_engine, "draft-only",
                            [Variant("a", 0.5, {}), Variant("b", 0.5, {})], salt="s")
    body = client.get(f"/v1/users/{USERS[0]}/images").json()
    assert body["variant"] is None and len(body["images"]) == 4
    experiment = store.get_experiment(store_engine, "draft-only")
    assert store.load_exposures(store_engine, experiment.id) == []


def test_a_variant_n_over_a_lowered_cap_is_clamped(make_client, store_engine: Engine) -> None:
    """Created under a cap of 16, served under a cap of 3: never more than 3 images."""
    _start(store_engine, {"mode": "generated", "n": 8}, {"mode": "generated", "n": 8})
    client = make_client(max_images_per_request=3)
    body = client.get(f"/v1/users/{USERS[0]}/images", params={"n": 2}).json()
    assert body["variant"] is not None and len(body["images"]) == 3


def test_generator_vs_generator_experiment_serves_and_samples_both(
        client: TestClient, store_engine: Engine, tmp_path) -> None:
    """--compare-generators OLD NEW as variants: each shopper gets their arm's generator, and
    the samples endpoint shows the same conditions drawn by both, side by side."""
    from pigen.data.model_registry import active_model_version
    from pigen.service.generator_serving import ensure_generator_version
    from tests.service.api.conftest import tiny_generator

    new = active_model_version(store_engine, "generator")
    old = ensure_generator_version(store_engine, tiny_generator(tmp_path / "old.safetensors"))
    assert new is not None and old.id != new.id and not old.is_active
    _start(store_engine, {"mode": "generated", "generator_version": old.id},
           {"mode": "generated", "generator_version": new.id})
    served = {}
    for user in USERS[:12]:
        body = client.get(f"/v1/users/{user}/images", params={"n": 1}).json()
        served[body["variant"]] = body["images"][0]["model_versions"]["generator"]
    assert served == {"imagery:control": old.id, "imagery:personalized": new.id}
    samples = client.get("/v1/experiments/imagery/samples", params={"n": 2})
    assert samples.status_code == 200, samples.text
    arms = {s["variant"]: s for s in samples.json()["samples"]}
    assert [i["model_versions"]["generator"] for i in arms["control"]["images"]] == [old.id] * 2
    assert [i["model_versions"]["generator"] for i in arms["personalized"]["images"]] == [
        new.id] * 2
    same = [(i["condition"]["vector"], i["seed"]) for i in arms["control"]["images"]]
    assert same == [(i["condition"]["vector"], i["seed"]) for i in arms["personalized"]["images"]]
    pictures = [client.get(arm["images"][0]["url"]) for arm in arms.values()]
    assert all(p.status_code == 200 and p.content[:4] == b"\x89PNG" for p in pictures)
    # (Both test generators hold the same tiny weights, so only the ids can differ.)
    ids = [[i["image_id"] for i in arm["images"]] for arm in arms.values()]
    assert not set(ids[0]) & set(ids[1])
    assert client.get("/v1/experiments/nope/samples").status_code == 404
