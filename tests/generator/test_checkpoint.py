import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from pigen.data.conditions import ConditionLayout
from pigen.generator.checkpoint import load_checkpoint, load_generator, save_generator
from pigen.generator.models import Generator
from pigen.generator.sampling import sample
from pigen.generator.train import random_conditions


def test_save_load_gives_identical_samples(tmp_path: Path, tiny_generator: Generator,
                                           layout: ConditionLayout) -> None:
    path = save_generator(tiny_generator, layout, tmp_path / "g.safetensors", {"fid": 1.5})
    loaded = load_generator(path)
    conditions = random_conditions(layout, 8, np.random.default_rng(1))
    images = sample(loaded.model, conditions, range(8))
    # Every load gives the same model, bit for bit ...
    assert torch.equal(images, sample(load_generator(path).model, conditions, range(8)))
    # ... and the saved one up to float rounding (loaded models run channels_last).
    assert torch.allclose(images, sample(tiny_generator, conditions, range(8)), atol=1e-5)
    assert loaded.layout == layout and loaded.config == tiny_generator.config
    assert loaded.metrics == {"fid": 1.5} and len(loaded.sha256) == 64
    assert not loaded.model.training


def test_a_generator_with_texture_planes_saves_and_loads(tmp_path: Path,
                                                          layout: ConditionLayout) -> None:
    from pigen.generator.config import GeneratorConfig
    from pigen.generator.models import build_generator

    model = build_generator(GeneratorConfig.tiny(texture_planes=3), layout).eval()
    with torch.no_grad():  # weights a trained model would have: the planes reach the image
        model.out_conv.weight.normal_(0, 0.2)
        model.textures.to_rgb.weight.normal_(0, 0.2)
    path = save_generator(model, layout, tmp_path / "g.safetensors", {})
    loaded = load_generator(path)
    assert loaded.config.texture_planes == 3
    conditions = random_conditions(layout, 4, np.random.default_rng(2))
    assert torch.allclose(sample(loaded.model, conditions, range(4)),
                          sample(model, conditions, range(4)), atol=1e-5)


def test_bytes_already_read_load_the_same_model_whatever_the_file_now_holds(
        tmp_path: Path, tiny_generator: Generator, layout: ConditionLayout) -> None:
    path = save_generator(tiny_generator, layout, tmp_path / "g.safetensors", {"fid": 1.5})
    data = path.read_bytes()
    from_file = load_generator(path)
    path.write_bytes(b"rewritten since")  # what was read (and checked) is what is parsed
    from_bytes = load_generator(path, data=data)
    conditions = random_conditions(layout, 4, np.random.default_rng(2))
    assert torch.equal(sample(from_bytes.model, conditions, range(4)),
                       sample(from_file.model, conditions, range(4)))
    assert (from_bytes.sha256, from_bytes.metrics, from_bytes.layout) == (
        from_file.sha256, from_file.metrics, from_file.layout)
    for broken in (data[:6], data[:40], b"\xff" * 8 + data[8:]):
        with pytest.raises(Exception, match="not a safetensors file|Error|error"):
            load_generator(path, data=broken)


def test_a_foreign_safetensors_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2)}, str(path), metadata={"format": "something-else"})
    with pytest.raises(ValueError, match="not a pigen generator file"):
        load_generator(path)


def test_weights_that_do_not_fit_the_config_are_refused(tmp_path: Path,
                                                        tiny_generator: Generator,
                                                        layout: ConditionLayout) -> None:
    path = save_generator(tiny_generator, layout, tmp_path / "g.safetensors")
    from safetensors import safe_open
    from safetensors.torch import load_file

    with safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata()
    config = json.loads(metadata["config"])
    config["g_channels"] = 64  # claims a wider network than the tensors hold
    metadata["config"] = json.dumps(config)
    save_file(load_file(str(path)), str(path), metadata=metadata)
    with pytest.raises(ValueError, match="do not fit|has shape"):
        load_generator(path)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not found"):
        load_generator(tmp_path / "nope.safetensors")


def test_pickled_code_in_a_checkpoint_is_refused(tmp_path: Path) -> None:
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "checkpoint.pt"
    torch.save({"format": "pigen-training/1", "payload": Evil()}, path)
    with pytest.raises(Exception, match="(?i)weights_only|unsupported|global"):
        load_checkpoint(path)
