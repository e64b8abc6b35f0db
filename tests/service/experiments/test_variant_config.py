"""A variant config is served as written or refused at creation, with the reason."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from pigen.data.model_registry import list_model_versions
from pigen.service.experiments import store
from pigen.service.experiments.assignment import Variant
from pigen.service.experiments.serving import Assignment, merge_configs
from pigen.service.experiments.variant_config import validate_config


@pytest.mark.parametrize(("config", "message"), [
    ({"recsys_version": 2}, "recsys_version is not supported"),
    ({"n": 17}, "over the server's cap of 16"),
    ({"n": 0}, "n must be a whole number >= 1"),
    ({"n": True}, "n must be a whole number"),
    ({"colour": "red"}, "unknown config key(s) colour"),
    ({"mode": "video"}, "mode must be one of catalog, generated"),
    ({"diversity": 9}, "diversity must be a number in [0, 4]"),
    ({"generator_version": "new"}, "generator_version must be a version id"),
    ({"seed": -1}, "seed must be a whole number"),
])
def test_configs_the_server_would_not_serve_are_refused(config: dict, message: str) -> None:
    with pytest.raises(ValueError, match="variant 'b'") as caught:
        validate_config("b", config, max_images_per_request=16)
    assert message in str(caught.value)


def test_a_servable_config_passes_unchanged() -> None:
    config = {"mode": "generated", "n": 16, "seed": 3, "diversity": 0.5, "generator_version": 1}
    assert validate_config("b", config, max_images_per_request=16) == config


def test_serving_clamps_n_to_the_cap() -> None:
    plan = merge_configs([Assignment("e", 1, "b", {"n": 12})])
    assert plan.apply(4, 0, 1.0, max_images=5) == (5, 0, 1.0)
    assert plan.apply(4, 0, 1.0) == (12, 0, 1.0)


def test_refused_at_creation_and_nothing_stored(engine: Engine) -> None:
    bad = [Variant("control", 1), Variant("b", 1, {"recsys_version": 1})]
    with pytest.raises(ValueError, match="recsys_version"):
        store.create_experiment(engine, "x", bad, max_images_per_request=16)
    too_many = [Variant("control", 1), Variant("b", 1, {"n": 64})]
    with pytest.raises(ValueError, match="cap of 16"):
        store.create_experiment(engine, "x", too_many, max_images_per_request=16)
    assert list_model_versions(engine, "generator") == []
    unknown = [Variant("control", 1), Variant("b", 1, {"generator_version": 7})]
    with pytest.raises(ValueError, match="generator_version 7 is not a registered generator"):
        store.create_experiment(engine, "x", unknown)
    assert store.list_experiments(engine) == []
