import numpy as np
import pytest

from pigen.data.catalog.body_colour import estimate_body_colour
from pigen.data.catalog.palette import PALETTE, delta_e76, srgb_to_lab
from pigen.data.catalog.render import render_product


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
def test_body_colour_of_real_renders_is_close(fashion_test, name: str, pattern: str) -> None:
    shapes = fashion_test.images[:600]
    rng = np.random.default_rng(0)
    images = np.stack([render_product(s, PALETTE[name], pattern, rng) for s in shapes[::60]])
    estimated = estimate_body_colour(images)
    error = np.median(delta_e76(estimated, np.tile(PALETTE[name], (len(images), 1))))
    assert error < 6, f"{name}/{pattern}: median Delta-E {error:.1f}"


def test_an_empty_image_reads_as_its_backdrop() -> None:
    empty = np.full((1, 32, 32, 3), 217, np.uint8)  # 0.85 * 255: nothing but backdrop
    assert estimate_body_colour(empty) == pytest.approx(np.array([[0.85, 0.85, 0.85]]))
    black = np.zeros((1, 32, 32, 3), np.uint8)
    assert estimate_body_colour(black, background=(0.0, 0.0, 0.0)).tolist() == [[0, 0, 0]]


@pytest.mark.parametrize("name", ["black", "navy", "white", "grey", "brown"])
def test_dark_and_neutral_solid_colours_are_read_exactly(fashion_test, name: str) -> None:
    shapes = fashion_test.images[:600]
    rng = np.random.default_rng(0)
    images = np.stack([render_product(s, PALETTE[name], "solid", rng) for s in shapes[::20]])
    error = np.median(delta_e76(estimate_body_colour(images),
                                np.tile(PALETTE[name], (len(images), 1))))
    assert error < 6, f"{name}: median Delta-E {error:.1f}"
