import io

import numpy as np
import pytest
import torch
from PIL import Image

from pigen.generator.augment import diff_augment, rand_cutout, rand_translation
from pigen.generator.encode import png_bytes, webp_bytes


def test_png_round_trips_exactly_and_upscales() -> None:
    image = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(png_bytes(image)))), image)
    assert png_bytes(image) == png_bytes(image)  # deterministic bytes: stable ETags
    big = np.asarray(Image.open(io.BytesIO(png_bytes(image, size=128))))
    assert big.shape == (128, 128, 3) and np.array_equal(big[::4, ::4], image)
    assert Image.open(io.BytesIO(webp_bytes(image))).size == (32, 32)


def test_encode_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match="uint8"):
        png_bytes(np.zeros((32, 32, 3), np.float32))
    with pytest.raises(ValueError, match="size"):
        png_bytes(np.zeros((32, 32, 3), np.uint8), size=4096)


def test_augmentations_keep_shape_and_never_change_colours() -> None:
    x = torch.full((16, 3, 32, 32), -1.0)
    x[:, 0, 8:24, 8:24] = 0.7  # a red square on black
    red = float(x[0, 0, 8, 8])  # 0.7 as float32
    g = torch.Generator().manual_seed(0)
    shifted = rand_translation(x, generator=g)
    assert shifted.shape == x.shape
    # Translation only moves pixels and fills with background: the value set is unchanged.
    assert set(torch.unique(shifted).tolist()) <= {-1.0, red}
    cut = rand_cutout(x, generator=g)
    assert set(torch.unique(cut).tolist()) <= {-1.0, 0.0, red}
    assert (cut == 0).any()
    assert diff_augment(x, generator=g).shape == x.shape
