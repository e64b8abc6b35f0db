import numpy as np
import pytest

from pigen.data.catalog.palette import PALETTE
from pigen.data.catalog.render import render_product
from pigen.generator.colour import delta_e76, estimate_body_colour, srgb_to_lab


def test_lab_of_reference_colours() -> None:
    # Reference values from the CIE formulas (D65), as published by e.g. colormine/Bruce Lindbloom.
    lab = srgb_to_lab(np.array([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0]]))
    assert lab[0] == pytest.approx([100.0, 0.0, 0.0], abs=0.01)
    assert lab[1] == pytest.approx([0.0, 0.0, 0.0], abs=0.01)
    assert lab[2] == pytest.approx([53.24, 80.09, 67.20], abs=0.05)


def test_delta_e_is_zero_for_equal_and_large_for_opposite_colours() -> None:
    red, blue = np.array([[0.85, 0.12, 0.12]]), np.array([[0.15, 0.40, 0.90]])
    assert delta_e76(red, red)[0] == 0.0
    assert delta_e76(red, blue)[0] > 50


@pytest.mark.parametrize("pattern", ["solid", "striped", "dotted"])
@pytest.mark.parametrize("name", ["red", "green", "blue", "yellow", "pink"])
def test_body_colour_of_real_renders_is_close(fashion_slice, name: str, pattern: str) -> None:
    shapes, _ = fashion_slice
    rng = np.random.default_rng(0)
    images = np.stack([render_product(s, PALETTE[name], pattern, rng) for s in shapes[::60]])
    estimated = estimate_body_colour(images)
    error = np.median(delta_e76(estimated, np.tile(PALETTE[name], (len(images), 1))))
    assert error < 10, f"{name}/{pattern}: median Delta-E {error:.1f}"


def test_a_black_image_has_a_black_body() -> None:
    assert estimate_body_colour(np.zeros((1, 32, 32, 3), np.uint8)).tolist() == [[0, 0, 0]]
