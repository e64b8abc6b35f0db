"""The demo's generator A/B test: the previous shipped generator against the active one.

``pigen demo`` calls :func:`ensure_generator_experiment`, so the admin page always
has a live old-vs-new generator experiment with both arms' samples side by side.
"""

from __future__ import annotations

from sqlalchemy import Engine

DEMO_EXPERIMENT = "generator-v1-vs-current"
#: A share of shoppers only: the rest of the demo keeps showing the active generator.
DEMO_COVERAGE = 0.2


def ensure_generator_experiment(engine: Engine, coverage: float = DEMO_COVERAGE) -> str:
    """Create and start the demo's generator experiment once; a line saying what is running."""
    from pigen.data.model_registry import active_model_version, list_model_versions
    from pigen.generator.shipped import PREVIOUS_GENERATORS
    from pigen.service.experiments import store
    from pigen.service.experiments.assignment import Variant
    from pigen.service.generator_serving import MODEL_KIND, register_previous_generators

    try:
        info = store.get_experiment(engine, DEMO_EXPERIMENT)
        return (f"experiment: {info.key} {info.status} ({info.coverage:.0%} of shoppers); "
                "results and samples at /admin")
    except store.UnknownExperiment:
        pass
    register_previous_generators(engine, PREVIOUS_GENERATORS)
    active = active_model_version(engine, MODEL_KIND)
    names = {p.name for p in PREVIOUS_GENERATORS}
    earlier = [v for v in list_model_versions(engine, MODEL_KIND)
               if v.path.name in names and active is not None and v.id != active.id]
    if active is None or not earlier:
        return "experiment: no earlier generator registered, so no generator A/B test"
    old = earlier[-1]
    store.create_experiment(
        engine, DEMO_EXPERIMENT,
        [Variant("control", 1, {"mode": "generated", "generator_version": old.id}),
         Variant("treatment", 1, {"mode": "generated", "generator_version": active.id})],
        description=f"{old.path.name} (v{old.id}) against the active generator (v{active.id})",
        coverage=coverage)
    store.start_experiment(engine, DEMO_EXPERIMENT)
    return (f"experiment: {DEMO_EXPERIMENT} running for {coverage:.0%} of shoppers: generator "
            f"v{old.id} vs v{active.id}; results and samples at /admin")
