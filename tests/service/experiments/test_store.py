"""The store on SQLite and PostgreSQL: lifecycle, exposures once, events idempotent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select

from pigen.data.database import session_scope
from pigen.data.schema import Event, ExperimentExposure
from pigen.service.experiments import serving, store
from pigen.service.experiments.assignment import Variant
from pigen.service.experiments.store import ExperimentConflict, NewEvent, UnknownExperiment

T0 = datetime(2026, 1, 1, tzinfo=UTC)
AB = [Variant("control", 1, {"mode": "catalog"}), Variant("personalized", 1,
                                                           {"mode": "generated"})]


def make(engine: Engine, key: str = "hero", start: bool = True) -> store.ExperimentInfo:
    info = store.create_experiment(engine, key, AB, description="photo vs generated", salt="s")
    return store.start_experiment(engine, key, now=T0) if start else info


def test_lifecycle(engine: Engine) -> None:
    info = make(engine, start=False)
    assert (info.status, info.control, info.variants[1].config) == (
        "draft", "control", {"mode": "generated"})
    with pytest.raises(ExperimentConflict):
        store.create_experiment(engine, "hero", AB)
    with pytest.raises(ExperimentConflict):
        store.stop_experiment(engine, "hero")
    running = store.start_experiment(engine, "hero", now=T0)
    assert running.status == "running" and running.started_at == T0
    with pytest.raises(ExperimentConflict):
        store.start_experiment(engine, "hero")
    stopped = store.stop_experiment(engine, "hero", now=T0 + timedelta(days=3))
    assert stopped.stopped_at == T0 + timedelta(days=3)
    with pytest.raises(ExperimentConflict):
        store.start_experiment(engine, "hero")  # a stopped experiment never restarts
    with pytest.raises(UnknownExperiment):
        store.get_experiment(engine, "nope")
    assert [e.key for e in store.list_experiments(engine)] == ["hero"]
    assert "salt" not in stopped.to_dict()


def test_serving_assigns_running_experiments_and_logs_exposure_once(engine: Engine) -> None:
    make(engine, "draft-one", start=False)
    info = make(engine, "hero")
    assignments = serving.variant_for_request(engine, "alice")
    assert [a.experiment for a in assignments] == ["hero"]  # drafts do not serve
    expected = info.design.assign("alice")
    assert expected is not None and assignments[0].variant == expected.name
    for _ in range(3):
        plan = serving.plan_for_request(engine, "alice")
    assert plan.mode == expected.config["mode"]
    assert serving.log_exposure(engine, "alice", assignments[0]) is False
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(ExperimentExposure)) == 1
    store.set_coverage(engine, "hero", 0.0)
    assert serving.variant_for_request(engine, "alice") == []


def test_events_are_idempotent_by_client_event_id(engine: Engine) -> None:
    event = NewEvent("e-1", "alice", "purchase", value=12.5, item_id="item-1",
                     occurred_at=T0 + timedelta(hours=1))
    first = store.record_event(engine, event)
    again = store.record_event(engine, event)
    assert first.created and not again.created and again.id == first.id
    assert again.value == 12.5 and again.occurred_at == event.occurred_at
    with pytest.raises(ExperimentConflict):
        store.record_event(engine, NewEvent("e-1", "alice", "purchase", value=99.0))
    store.record_event(engine, NewEvent("e-2", "alice", "view"))
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(Event)) == 2


@pytest.mark.parametrize("bad", [
    dict(kind="refund"), dict(value=-1.0), dict(value=float("nan")), dict(kind="view", value=2.0),
    dict(client_event_id=""), dict(user_id=""), dict(occurred_at=datetime(2026, 1, 1)),
])
def test_invalid_events_are_rejected(bad: dict) -> None:
    values = dict(client_event_id="e", user_id="u", kind="purchase", value=1.0) | bad
    with pytest.raises(ValueError):
        NewEvent(**values)


def test_analysis_window_and_pre_activity(engine: Engine) -> None:
    info = make(engine)
    store.log_exposure(engine, info.id, "u1", "control", at=T0 + timedelta(hours=1))
    store.log_exposure(engine, info.id, "u2", "personalized", at=T0 + timedelta(hours=1))
    for k, (user, at) in enumerate([("u1", T0 - timedelta(days=2)),   # before: CUPED's X
                                    ("u1", T0 + timedelta(hours=2)),   # counted
                                    ("u3", T0 + timedelta(hours=2))]):  # never exposed
        store.record_event(engine, NewEvent(f"p{k}", user, "purchase", value=5.0,
                                            occurred_at=at))
    purchases = store.load_purchases(engine, info.id, T0, T0 + timedelta(days=1))
    assert [(p.user_id, p.value) for p in purchases] == [("u1", 5.0)]
    assert store.load_pre_activity(engine, info.id, before=T0) == {"u1": 1.0}
    assert {(e.user_id, e.variant) for e in store.load_exposures(engine, info.id)} == {
        ("u1", "control"), ("u2", "personalized")}


def test_serving_plan_merges_and_applies_configs() -> None:
    a = serving.Assignment("one", 1, "wide", {"diversity": 2.0, "seed": 7})
    b = serving.Assignment("two", 2, "photo", {"mode": "catalog", "diversity": 0.5})
    plan = serving.merge_configs([a, b])
    assert (plan.mode, plan.diversity, plan.variant) == ("catalog", 2.0, "one:wide,two:photo")
    assert plan.apply(4, 0, 1.0) == (4, 7, 2.0)
    assert serving.merge_configs([]).variant is None
    assert serving.merge_configs([]).apply(4, 3, 1.0) == (4, 3, 1.0)
