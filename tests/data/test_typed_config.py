"""TypedConfig: the one config idiom rejects the same mistakes the same way."""

from __future__ import annotations

import json
import pickle
from typing import Any, Literal

import pytest
from pydantic import Field, model_validator

from pigen.data.typed_config import ConfigError, TypedConfig


class Demo(TypedConfig):
    """Every kind of field the project's configs use."""

    steps: int = Field(default=10, ge=1)
    rate: float = Field(default=0.5, ge=0, le=1)
    mode: Literal["fast", "careful"] = "fast"
    enabled: bool = True
    background: tuple[float, float, float] = (0.9, 0.9, 0.9)
    warmup: int = 0

    @model_validator(mode="after")
    def _warmup_inside_steps(self) -> Demo:
        if self.warmup > self.steps:
            raise ValueError(f"warmup ({self.warmup}) must be <= steps ({self.steps})")
        return self


class Legacy(Demo):
    """A config whose old files named ``steps`` ``n_steps``."""

    @classmethod
    def _migrate(cls, values: dict[str, Any]) -> dict[str, Any]:
        if "n_steps" in values:
            values["steps"] = values.pop("n_steps")
        return values


def test_unknown_key_is_named_with_the_known_ones() -> None:
    with pytest.raises(ConfigError) as caught:
        Demo.from_dict({"stpes": 3})
    assert caught.value.problems == (
        "stpes: unknown key", "known keys: background, enabled, mode, rate, steps, warmup")
    assert str(caught.value).startswith("invalid Demo: stpes: unknown key")


@pytest.mark.parametrize(
    "changes",
    [{"steps": "10"}, {"steps": True}, {"steps": 2.5}, {"steps": 2.0}, {"rate": "0.5"},
     {"rate": False}, {"enabled": 1}, {"enabled": "yes"}, {"mode": "slow"},
     {"background": (0.1, 0.2)}, {"background": ("a", 0.0, 0.0)}],
)
def test_wrong_types_are_refused(changes: dict[str, Any]) -> None:
    (name,) = changes  # a tuple's bad item is named too: "background.0: ..."
    with pytest.raises(ConfigError, match=f"^invalid Demo: {name}[.:].*\\(got "):
        Demo(**changes)


def test_an_int_is_a_float_but_stays_a_float() -> None:
    config = Demo(rate=1, background=(1, 0, 0))
    assert config.rate == 1.0 and isinstance(config.rate, float)
    assert all(isinstance(v, float) for v in config.background)


@pytest.mark.parametrize(
    "changes", [{"steps": 0}, {"rate": 1.5}, {"rate": -0.1}, {"rate": float("nan")},
                {"rate": float("inf")}],
)
def test_ranges_and_finiteness(changes: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="rate|steps"):
        Demo(**changes)


def test_every_bad_field_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as caught:
        Demo(steps=0, rate=2.0, mode="slow")
    assert [p.split(":")[0] for p in caught.value.problems] == ["steps", "rate", "mode"]


def test_cross_field_rule_raises_config_error() -> None:
    assert Demo(warmup=10).warmup == 10
    with pytest.raises(ConfigError, match=r"warmup \(11\) must be <= steps \(10\)"):
        Demo(warmup=11)


def test_config_error_is_a_value_error_and_survives_pickling() -> None:
    # Callers that caught ValueError before the idiom existed still catch it.
    assert issubclass(ConfigError, ValueError)
    with pytest.raises(ConfigError) as caught:
        Demo(steps=0)
    again = pickle.loads(pickle.dumps(caught.value))  # e.g. raised in a Ray worker
    assert str(again) == str(caught.value) and again.problems == caught.value.problems


def test_a_config_survives_pickling() -> None:
    config = Demo(steps=3, background=(0.1, 0.2, 0.3))
    assert pickle.loads(pickle.dumps(config)) == config


def test_round_trip_through_json() -> None:
    config = Demo(steps=3, rate=0.25, mode="careful", enabled=False, background=(0, 0.5, 1))
    values = json.loads(json.dumps(config.to_dict()))
    assert values["background"] == [0.0, 0.5, 1.0]  # JSON-ready: the tuple became a list
    again = Demo.from_dict(values)
    assert again == config and hash(again) == hash(config)
    assert isinstance(again.background, tuple)


def test_from_dict_defaults_missing_keys_and_refuses_non_mappings() -> None:
    assert Demo.from_dict({}) == Demo()
    with pytest.raises(ConfigError, match="expected a mapping, got list"):
        Demo.from_dict([("steps", 3)])  # type: ignore[arg-type]


def test_frozen() -> None:
    config = Demo()
    with pytest.raises(AttributeError, match="frozen"):
        config.steps = 3  # type: ignore[misc]
    assert config.steps == 10


def test_replace_validates_and_leaves_the_original_alone() -> None:
    config = Demo()
    assert config.replace(steps=20) == Demo(steps=20)
    with pytest.raises(ConfigError, match="steps"):
        config.replace(steps=0)
    with pytest.raises(ConfigError, match="warmup"):
        config.replace(warmup=50)  # the cross-field rule runs again
    with pytest.raises(ConfigError, match="unknown key"):
        config.replace(stpes=20)
    assert config == Demo()


def test_migrate_runs_before_validation_in_from_dict_only() -> None:
    assert Legacy.from_dict({"n_steps": 4}).steps == 4
    with pytest.raises(ConfigError, match="n_steps: unknown key"):
        Legacy(n_steps=4)  # construction takes today's fields only
    with pytest.raises(ConfigError, match="steps"):
        Legacy.from_dict({"n_steps": 0})  # migrated values are validated too
