"""ALSConfig: typed, validated, round-trips through plain dicts."""

from __future__ import annotations

import pytest

from pigen.data.typed_config import ConfigError
from pigen.recsys.config import ALSConfig, gpu_available


def test_round_trips_through_a_dict() -> None:
    config = ALSConfig(factors=32, regularization=20, weighting="bm25", bm25_k1=1.2)
    assert ALSConfig.from_dict(config.to_dict()) == config
    assert isinstance(config.regularization, float)  # ints are accepted for floats


def test_rejects_unknown_keys_naming_them() -> None:
    with pytest.raises(ConfigError, match="learning_rate: unknown key; known keys: alpha"):
        ALSConfig.from_dict({"factors": 8, "learning_rate": 0.1})


@pytest.mark.parametrize(
    "changes",
    [{"factors": "64"}, {"factors": True}, {"factors": 6.5}, {"alpha": "1"},
     {"use_gpu": 1}, {"weighting": 3}],
)
def test_rejects_wrong_types(changes: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match=f"{next(iter(changes))}: Input should be"):
        ALSConfig.from_dict(changes)


@pytest.mark.parametrize(
    "changes",
    [{"factors": 0}, {"regularization": -1.0}, {"alpha": 0.0}, {"iterations": 0},
     {"weighting": "log"}, {"bm25_b": 1.5}, {"num_threads": -1}, {"random_seed": -3},
     {"regularization": float("nan")}],
)
def test_rejects_bad_values(changes: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match=next(iter(changes))):
        ALSConfig.from_dict(changes)


def test_names_every_bad_field_at_once() -> None:
    with pytest.raises(ConfigError) as caught:
        ALSConfig(factors=0, alpha=-1.0)
    assert [p.split(":")[0] for p in caught.value.problems] == ["factors", "alpha"]


def test_bm25_settings_need_bm25_weighting() -> None:
    with pytest.raises(ConfigError, match="only apply with weighting='bm25'"):
        ALSConfig(weighting="raw", bm25_k1=1.2)


@pytest.mark.skipif(gpu_available(), reason="checks the CPU-only refusal")
def test_use_gpu_needs_cuda() -> None:
    with pytest.raises(ConfigError, match="HAS_CUDA"):
        ALSConfig(use_gpu=True)


def test_is_frozen() -> None:
    with pytest.raises(AttributeError):
        ALSConfig().factors = 3  # type: ignore[misc]


def test_value_offset_belongs_to_the_offset_mapping() -> None:
    config = ALSConfig(value_mapping="offset", value_offset=3.0)
    assert config.value_offset == 3.0
    with pytest.raises(ConfigError, match="value_offset only applies"):
        ALSConfig(value_offset=3.0)
    with pytest.raises(ConfigError, match="needs a non-zero value_offset"):
        ALSConfig(value_mapping="offset")
    with pytest.raises(ConfigError, match="only works with weighting='raw'"):
        ALSConfig(value_mapping="offset", value_offset=3.0, weighting="tfidf")
    with pytest.raises(ConfigError, match="value_offset: Input should be a finite number"):
        ALSConfig(value_mapping="offset", value_offset=float("nan"))


def test_binary_threshold_belongs_to_the_binary_mapping() -> None:
    assert ALSConfig(value_mapping="binary", binary_threshold=3.5).binary_threshold == 3.5
    assert ALSConfig(value_mapping="binary", weighting="bm25").weighting == "bm25"
    with pytest.raises(ConfigError, match="binary_threshold only applies"):
        ALSConfig(binary_threshold=3.0)
    with pytest.raises(ConfigError, match="value_mapping: Input should be"):
        ALSConfig.from_dict({"value_mapping": "square"})


def test_an_old_dict_with_only_value_offset_means_the_offset_mapping() -> None:
    config = ALSConfig.from_dict({"value_offset": 3.0})
    assert config.value_mapping == "offset"
    assert ALSConfig.from_dict(config.to_dict()) == config
    assert ALSConfig.from_dict({"value_offset": 0.0}).value_mapping == "raw"
