"""The texture encoder: config rules, determinism, safetensors save/load, crops, views."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from pigen.data.catalog.texture import TextureEncoder, TextureEncoderConfig, train_texture_encoder
from pigen.data.catalog.texture_encoder import (
    MIN_COVERAGE,
    CropSampler,
    _standardise,
    colour_jitter,
    nt_xent,
)
from pigen.data.typed_config import ConfigError

# A network small enough that a test trains it in a few seconds.
TINY = TextureEncoderConfig(input_size=16, channels=(8, 16), projection_dim=8, steps=30,
                            batch_size=16, feature_views=2, num_threads=1)


def striped_and_plain(count: int = 24, size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Half plain, half striped squares in random colours, on a grey backdrop."""
    rng = np.random.default_rng(0)
    images = np.full((count, size, size, 3), 0.85, dtype=np.float32)
    masks = np.zeros((count, size, size), dtype=bool)
    masks[:, 4:-4, 4:-4] = True
    for i in range(count):
        body = rng.uniform(0.1, 1.0, 3).astype(np.float32)
        tint = np.broadcast_to(body, (size, size, 3)).copy()
        if i % 2:
            tint[::4] *= 0.4
        images[i][masks[i]] = tint[masks[i]]
    return images, masks


def test_config_rejects_bad_values_and_round_trips() -> None:
    assert TextureEncoderConfig.from_dict(TINY.to_dict()) == TINY
    with pytest.raises(ConfigError, match="crop_scale"):
        TextureEncoderConfig(crop_scale=(0.6, 0.3))
    with pytest.raises(ConfigError, match="divisible"):
        TextureEncoderConfig(input_size=18, channels=(8, 16, 32))
    with pytest.raises(ConfigError, match="unknown key"):
        TextureEncoderConfig.from_dict({"stepz": 3})
    with pytest.raises(ConfigError, match="temperature"):
        TextureEncoderConfig(temperature=0.0)


def test_training_is_deterministic_and_learns() -> None:
    images, masks = striped_and_plain()
    first = train_texture_encoder(images, masks, TINY, progress=False)
    second = train_texture_encoder(images, masks, TINY, progress=False)
    features = first.features(images, masks)
    assert features.shape == (24, 16) and features.dtype == np.float32
    assert np.allclose(np.linalg.norm(features, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(features, second.features(images, masks))
    assert np.array_equal(features, first.features(images, masks))  # features are seeded too
    assert first.summary is not None
    # below the loss of features that know nothing: log(2B - 1)
    assert first.summary.final_loss < math.log(2 * TINY.batch_size - 1)


def test_save_and_load_give_the_same_features(tmp_path: Path) -> None:
    images, masks = striped_and_plain()
    encoder = train_texture_encoder(images, masks, TINY.replace(steps=3), progress=False)
    path = encoder.save(tmp_path / "texture.safetensors")
    loaded = TextureEncoder.load(path)
    assert loaded.config == encoder.config and loaded.summary == encoder.summary
    assert np.array_equal(loaded.features(images, masks), encoder.features(images, masks))


def test_load_refuses_foreign_files(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"not a safetensors file at all")
    with pytest.raises(ValueError, match="not a safetensors file"):
        TextureEncoder.load(garbage)
    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(2)}, str(foreign), metadata={"format": "pigen-generator/1"})
    with pytest.raises(ValueError, match="not a pigen texture encoder"):
        TextureEncoder.load(foreign)
    misfit = tmp_path / "misfit.safetensors"
    save_file({"w": torch.zeros(2)}, str(misfit), metadata={
        "format": "pigen-texture-encoder/1", "config": json.dumps(TINY.to_dict())})
    with pytest.raises(ValueError, match="do not fit"):
        TextureEncoder.load(misfit)
    with pytest.raises(FileNotFoundError):
        TextureEncoder.load(tmp_path / "absent.safetensors")


def test_inputs_are_checked() -> None:
    images, masks = striped_and_plain(4)
    with pytest.raises(ValueError, match="masks must be"):
        train_texture_encoder(images, masks[:, :8], TINY, progress=False)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        train_texture_encoder(images * 255, masks, TINY, progress=False)
    empty = masks.copy()
    empty[2] = False
    with pytest.raises(ValueError, match="empty mask"):
        train_texture_encoder(images, empty, TINY, progress=False)


def test_crops_stay_inside_the_product() -> None:
    masks = np.zeros((2, 64, 64), dtype=bool)
    masks[0, 10:50, 20:60] = True  # room for a crop
    masks[1, 30:33, :] = True  # a thin strap: no crop fits, the best one is taken
    sampler = CropSampler(masks)
    rng = np.random.default_rng(0)
    boxes = sampler.sample(np.zeros(200, dtype=np.int64), 0.3, 0.5, rng)
    for top, left, side in boxes:
        assert 19 <= side <= 32
        assert masks[0, top:top + side, left:left + side].mean() >= MIN_COVERAGE
    (top, left, side), = sampler.sample(np.array([1]), 0.3, 0.3, rng)
    assert top <= 30 and top + side >= 33  # covers the strap


def test_standardising_divides_out_colour_and_contrast() -> None:
    rng = np.random.default_rng(1)
    crop = torch.from_numpy(rng.random((1, 3, 8, 8)).astype(np.float32))
    recoloured = 0.5 * crop + torch.tensor([0.1, 0.3, 0.2]).view(1, 3, 1, 1)
    same = _standardise(torch.cat([crop, recoloured]))
    # identical up to the small constant that keeps flat crops flat
    assert torch.allclose(same[0], same[1] * (same[0].std() / same[1].std()), atol=1e-5)
    flat = _standardise(torch.full((1, 3, 8, 8), 0.7))
    assert flat.abs().max() < 1e-5


def test_colour_jitter_changes_colour_keeps_range_and_shape() -> None:
    crops = torch.rand(64, 3, 8, 8)
    jittered = colour_jitter(crops, TINY, np.random.default_rng(0))
    assert jittered.shape == crops.shape
    assert jittered.min() >= 0 and jittered.max() <= 1
    mean_shift = (jittered.mean(dim=(2, 3)) - crops.mean(dim=(2, 3))).abs().mean()
    assert mean_shift > 0.05
    grey = (jittered[:, 0] == jittered[:, 1]).flatten(1).all(dim=1)
    assert 0 < grey.float().mean() < 0.7  # grayscale_p = 0.3


def test_nt_xent_is_low_for_matching_views() -> None:
    rng = torch.Generator().manual_seed(0)
    z = torch.randn(8, 16, generator=rng)
    matched = nt_xent(torch.cat([z, z]), 0.1)
    unmatched = nt_xent(torch.cat([z, torch.randn(8, 16, generator=rng)]), 0.1)
    assert matched < 0.1 < unmatched
