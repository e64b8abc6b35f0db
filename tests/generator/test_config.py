import pytest

from pigen.generator.config import GeneratorConfig


def test_defaults_are_valid_and_round_trip() -> None:
    config = GeneratorConfig()
    assert GeneratorConfig.from_dict(config.to_dict()) == config
    assert config.n_upsamplings == 3
    assert GeneratorConfig(resolution=64).n_upsamplings == 4


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"resolution": 48}, "resolution"),
        ({"batch_size": 0}, "batch_size"),
        ({"lr_g": -1.0}, "lr_g"),
        ({"ema_decay": 1.5}, "ema_decay"),
        ({"device": "tpu"}, "device"),
        ({"g_channels": 190}, "divisible"),
        ({"steps": 1.5}, "steps must be an int"),
        ({"augment": "yes"}, "augment must be true or false"),
    ],
)
def test_bad_values_are_refused_with_the_field_named(changes: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        GeneratorConfig(**changes)


def test_unknown_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown GeneratorConfig keys: \\['stpes'\\]"):
        GeneratorConfig.from_dict({"stpes": 10})


def test_integers_are_accepted_for_floats() -> None:
    assert GeneratorConfig(lr_g=1).lr_g == 1.0
