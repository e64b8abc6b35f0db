import pytest

from pigen.data.typed_config import ConfigError
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
        ({"steps": 1.5}, "steps: Input should be a valid integer"),
        ({"steps": True}, "steps: Input should be a valid integer"),
        ({"augment": "yes"}, "augment: Input should be a valid boolean"),
        ({"background": (1.2, 0.5, 0.5)}, "background.0"),
        ({"background": (0.5, 0.5)}, "background"),
        ({"architecture": "vae"}, "architecture"),
    ],
)
def test_bad_values_are_refused_with_the_field_named(changes: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        GeneratorConfig(**changes)


def test_unknown_keys_are_refused() -> None:
    with pytest.raises(ConfigError, match="stpes: unknown key; known keys: .*steps"):
        GeneratorConfig.from_dict({"stpes": 10})


def test_a_legacy_file_config_is_the_first_architecture_on_black() -> None:
    legacy = {k: v for k, v in GeneratorConfig().to_dict().items()
              if k not in ("architecture", "background", "minibatch_std")}
    config = GeneratorConfig.from_dict(legacy)
    assert config.architecture == "dcgan" and config.background == (0.0, 0.0, 0.0)
    assert not config.minibatch_std
    assert GeneratorConfig.from_dict(GeneratorConfig().to_dict()).architecture == "parts"


def test_files_from_before_the_category_classifier_train_without_one() -> None:
    # Their discriminators have no classifier: a resume must rebuild the same network.
    before = {k: v for k, v in GeneratorConfig().to_dict().items() if k != "category_loss_weight"}
    assert GeneratorConfig.from_dict(before).category_loss_weight == 0.0
    # A hand-written partial config gets today's default.
    assert GeneratorConfig.from_dict({"steps": 10}).category_loss_weight > 0


def test_files_from_before_the_pattern_classifier_train_without_one() -> None:
    before = {k: v for k, v in GeneratorConfig().to_dict().items() if k != "pattern_loss_weight"}
    assert GeneratorConfig.from_dict(before).pattern_loss_weight == 0.0
    assert GeneratorConfig.from_dict({"steps": 10}).pattern_loss_weight == 0.5
    before = {k: v for k, v in GeneratorConfig().to_dict().items() if k != "ground_colour_share"}
    assert GeneratorConfig.from_dict(before).ground_colour_share == 0.0


def test_files_from_before_the_pooling_choice_keep_the_mean_their_classifier_read() -> None:
    before = {k: v for k, v in GeneratorConfig().to_dict().items() if k != "classifier_pooling"}
    assert GeneratorConfig.from_dict(before).classifier_pooling == "mean"
    assert GeneratorConfig.from_dict({"steps": 10}).classifier_pooling == "sum"
    with pytest.raises(ValueError):
        GeneratorConfig.from_dict({"classifier_pooling": "max"})


def test_json_lists_become_the_background_tuple() -> None:
    config = GeneratorConfig.from_dict({"background": [1, 0.9, 0.8]})
    assert config.background == (1.0, 0.9, 0.8)
    assert GeneratorConfig.from_dict(config.to_dict()) == config


def test_integers_are_accepted_for_floats() -> None:
    assert GeneratorConfig(lr_g=1).lr_g == 1.0
