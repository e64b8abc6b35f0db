import io

import numpy as np
import pytest
import torch
from PIL import Image

from pigen.generator.augment import blur_sigma, gaussian_blur, rand_translation
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


def test_blur_spreads_a_point_keeps_the_mean_and_passes_gradients() -> None:
    x = torch.zeros(2, 3, 32, 32, requires_grad=True)
    point = torch.zeros(2, 3, 32, 32)
    point[:, :, 16, 16] = 1.0
    blurred = gaussian_blur(x + point, 2.0)
    assert float(blurred[0, 0, 16, 16]) < 0.1  # spread out ...
    assert float(blurred[0, 0].sum()) == pytest.approx(1.0, abs=1e-5)  # ... none lost
    assert float(blurred[0, 0, 16, 18]) > float(blurred[0, 0, 16, 22]) > 0
    blurred.sum().backward()  # G learns through what D sees
    assert x.grad is not None and float(x.grad.abs().sum()) > 0
    assert torch.equal(gaussian_blur(point, 0.0), point)
    flat = torch.full((1, 3, 8, 8), 0.4)
    assert torch.allclose(gaussian_blur(flat, 5.0), flat)  # a plain image stays plain


def test_blur_fades_linearly_to_none() -> None:
    assert blur_sigma(0, 3.0, 1000) == 3.0
    assert blur_sigma(500, 3.0, 1000) == pytest.approx(1.5)
    assert blur_sigma(1000, 3.0, 1000) == 0.0
    assert blur_sigma(5, 0.0, 1000) == 0.0 and blur_sigma(5, 3.0, 0) == 0.0

