"""The demo's generator-vs-generator experiment: created once, running, old vs active."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from pigen.data.model_registry import list_model_versions
from pigen.generator.shipped import PREVIOUS_GENERATORS
from pigen.service.experiments import store
from pigen.service.experiments.demo import DEMO_EXPERIMENT, ensure_generator_experiment
from pigen.service.generator_serving import ensure_generator_version
from tests.service.api.conftest import tiny_generator


def test_the_demo_runs_the_previous_generator_against_the_active_one(
        engine: Engine, tmp_path: Path) -> None:
    assert "no earlier generator" in ensure_generator_experiment(engine)  # nothing active yet
    active = ensure_generator_version(engine, tiny_generator(tmp_path / "g.safetensors"))
    said = ensure_generator_experiment(engine)
    assert "running" in said and f"vs v{active.id}" in said
    info = store.get_experiment(engine, DEMO_EXPERIMENT)
    old = next(v for v in list_model_versions(engine, "generator")
               if v.path.name == PREVIOUS_GENERATORS[0].name)
    assert info.status == "running" and info.coverage == 0.2
    assert [v.config["generator_version"] for v in info.variants] == [old.id, active.id]
    assert "running" in ensure_generator_experiment(engine)  # a second demo start: the same one
    assert len(store.list_experiments(engine)) == 1
