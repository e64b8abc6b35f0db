import io

import numpy as np
import pytest
import torch
from PIL import Image

from pigen.generator.augment import rand_translation
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


def test_translation_moves_pixels_and_fills_with_the_backdrop() -> None:
    backdrop = 0.7  # a light studio grey, in [-1, 1]
    x = torch.full((16, 3, 32, 32), backdrop)
    x[:, 0, 8:24, 8:24] = -0.8  # a dark square on it
    dark, backdrop = float(x[0, 0, 8, 8]), float(x[0, 0, 0, 0])  # as float32
    shifted = rand_translation(x, generator=torch.Generator().manual_seed(0))
    assert shifted.shape == x.shape
    # Only moved, never recoloured: uncovered pixels repeat the edge (the backdrop),
    # not black or a grey cutout.
    assert set(torch.unique(shifted).tolist()) <= {backdrop, dark}
    assert (shifted[:, 0] == dark).sum(dim=(1, 2)).eq(16 * 16).all()  # the square survives
    moved = [not torch.equal(shifted[k], x[k]) for k in range(16)]
    assert any(moved)
