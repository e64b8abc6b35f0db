"""The rendering recipe: exactness, background, determinism, visible patterns."""

from __future__ import annotations

import numpy as np
import pytest

from pigen.data.catalog.palette import PALETTE, srgb_to_lab
from pigen.data.catalog.render import (
    DEFAULT_BACKGROUND,
    PATTERNS,
    pad_shape,
    pattern_mask,
    render_product,
)
from pigen.data.datasets.fashion_mnist import FashionMNIST

WHITE = (1.0, 1.0, 1.0)


def test_white_solid_is_the_shape_as_opacity_over_the_backdrop(fashion_test: FashionMNIST) -> None:
    rng = np.random.default_rng(0)
    grey = DEFAULT_BACKGROUND[0]
    for index in rng.choice(len(fashion_test), size=300, replace=False):
        shape = fashion_test.images[index]
        image = render_product(shape, WHITE, "solid", rng)
        assert image.shape == (32, 32, 3) and image.dtype == np.uint8
        opacity = pad_shape(shape) / 255.0
        expected = np.rint(((1 - opacity) * grey + opacity) * 255)  # white over grey
        for channel in range(3):
            np.testing.assert_allclose(image[..., channel], expected, atol=1)


def test_on_a_black_backdrop_white_solid_is_the_padded_shape_exactly(
        fashion_test: FashionMNIST) -> None:
    """The original recipe is the special case ``background=(0, 0, 0)``."""
    shape = fashion_test.images[3]
    image = render_product(shape, WHITE, "solid", np.random.default_rng(0), (0.0, 0.0, 0.0))
    for channel in range(3):
        np.testing.assert_array_equal(image[..., channel], pad_shape(shape))


@pytest.mark.parametrize("pattern", PATTERNS)
def test_background_is_the_backdrop_and_the_product_lies_between(
    fashion_test: FashionMNIST, pattern: str
) -> None:
    rng = np.random.default_rng(1)
    shape = fashion_test.images[0]
    padded = pad_shape(shape)
    backdrop = np.rint(np.asarray(DEFAULT_BACKGROUND) * 255)
    for colour in PALETTE.values():
        image = render_product(shape, colour, pattern, rng).astype(float)
        assert (image[padded == 0] == backdrop).all()  # empty canvas: pure studio grey
        # Opaque body pixels take a tint (the colour or its pattern tone), never the backdrop
        # unless the colour happens to be it.
        full = padded == 255
        if full.any():
            assert np.abs(image[full] - backdrop).max() > 20


@pytest.mark.parametrize("name", list(PALETTE))
def test_every_palette_colour_stands_out_from_the_backdrop(name: str) -> None:
    body = srgb_to_lab(np.asarray([PALETTE[name]]))
    backdrop = srgb_to_lab(np.asarray([DEFAULT_BACKGROUND]))
    assert float(np.linalg.norm(body - backdrop)) > 12  # white is the nearest, at ~13


def test_a_custom_backdrop_is_used_and_validated(fashion_test: FashionMNIST) -> None:
    shape = fashion_test.images[0]
    image = render_product(shape, PALETTE["red"], "solid", np.random.default_rng(0),
                           (1.0, 1.0, 0.0))
    assert (image[pad_shape(shape) == 0] == (255, 255, 0)).all()
    with pytest.raises(ValueError, match="background"):
        render_product(shape, WHITE, "solid", np.random.default_rng(0), (1.2, 0, 0))


def test_same_rng_state_same_image(fashion_test: FashionMNIST) -> None:
    shape = fashion_test.images[5]
    for pattern in PATTERNS:
        a = render_product(shape, PALETTE["teal"], pattern, np.random.default_rng(7))
        b = render_product(shape, PALETTE["teal"], pattern, np.random.default_rng(7))
        np.testing.assert_array_equal(a, b)


def test_solid_draws_nothing_from_rng(fashion_test: FashionMNIST) -> None:
    rng = np.random.default_rng(3)
    before = rng.bit_generator.state
    render_product(fashion_test.images[0], PALETTE["red"], "solid", rng)
    assert rng.bit_generator.state == before


@pytest.mark.parametrize("pattern", PATTERNS[1:])
def test_patterns_cover_a_minority_and_vary(pattern: str) -> None:
    rng = np.random.default_rng(11)
    masks = [pattern_mask(pattern, rng) for _ in range(200)]
    shares = [m.mean() for m in masks]
    assert min(shares) > 0.05 and max(shares) <= 0.4  # the body colour stays dominant
    assert len({m.tobytes() for m in masks}) > 10  # geometry really is drawn


@pytest.mark.parametrize("name", list(PALETTE))
def test_patterns_show_on_every_colour(fashion_test: FashionMNIST, name: str) -> None:
    pullover = fashion_test.images[fashion_test.labels == 2][0]
    solid = render_product(pullover, PALETTE[name], "solid", np.random.default_rng(0)).astype(int)
    body = pad_shape(pullover) > 128
    for pattern in PATTERNS[1:]:
        image = render_product(pullover, PALETTE[name], pattern, np.random.default_rng(0)).astype(
            int
        )
        changed = np.abs(image - solid).max(axis=-1)[body] >= 40  # clearly visible steps
        assert changed.mean() > 0.08, (name, pattern)


def test_rejects_bad_inputs() -> None:
    rng = np.random.default_rng(0)
    shape = np.zeros((28, 28), dtype=np.uint8)
    with pytest.raises(ValueError, match="unknown pattern"):
        render_product(shape, WHITE, "paisley", rng)
    with pytest.raises(ValueError, match="colour must be"):
        render_product(shape, (1.2, 0.0, 0.0), "solid", rng)
    with pytest.raises(ValueError, match=r"shape must be \(28, 28\)"):
        render_product(np.zeros((32, 32), dtype=np.uint8), WHITE, "solid", rng)
