"""Body colour by k-means in CIELAB, on products whose colour is known."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pigen.data.catalog.colour_clusters import (
    body_colour,
    load_palette,
    nearest_name,
    uniform_pixels,
)
from pigen.data.catalog.palette import PALETTE, delta_e76
from pigen.data.catalog.prepare import prepare_image
from pigen.data.catalog.render import render_product
from pigen.data.datasets.fashion_mnist import FashionMNIST


def photo(colour: tuple[float, float, float], background: tuple[float, float, float],
          stripes: bool = False, seed: int = 0) -> bytes:
    """An opaque, mildly shaded product on a noisy backdrop, as JPEG (a studio photo)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:110, 0:90]
    inside = ((y - 55) / 45) ** 2 + ((x - 45) / 32) ** 2 < 1
    shade = 1.0 - 0.06 * (x / 90)[..., None]  # lit from the left, up to 6% darker
    body = np.asarray(colour) * shade
    if stripes:  # a third of the product in a dark line tone
        body = np.where(((y // 4) % 3 == 0)[..., None], np.asarray(colour) * 0.3, body)
    image = np.where(inside[..., None], body, np.asarray(background))
    image = image + rng.normal(0, 0.01, image.shape)
    buffer = io.BytesIO()
    Image.fromarray(np.clip(np.rint(image * 255), 0, 255).astype(np.uint8)).save(
        buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def error(rgb: tuple[float, float, float], truth: tuple[float, float, float]) -> float:
    return float(delta_e76(np.array([rgb]), np.array([truth]))[0])


@pytest.mark.parametrize("background", [(0.96, 0.95, 0.93), (0.08, 0.08, 0.1)])
def test_opaque_photos_read_within_a_few_delta_e(background: tuple[float, float, float]
                                                 ) -> None:
    errors, named = [], 0
    for seed, name in enumerate(PALETTE):
        if name in ("white", "black"):  # too close to one of the two backdrops
            continue
        prepared = prepare_image(photo(PALETTE[name], background, stripes=seed % 2 == 1, seed=seed))
        found = body_colour(prepared.rgb, prepared.mask, background=prepared.background)
        errors.append(error(found.rgb, PALETTE[name]))
        named += found.name == name
        assert found.hex.startswith("#") and 0.5 < found.share <= 1.0
    assert np.median(errors) < 4.0, errors
    assert named >= len(errors) - 1


def test_pigen_renders_name_the_colour(fashion_test: FashionMNIST) -> None:
    """pigen's renders are translucent (the shape's shading is opacity): the true colour
    shows only where the shape is opaque, so the reading runs lighter; the name holds."""
    rng = np.random.default_rng(0)
    errors, named, total = [], 0, 0
    for background in [(0.85, 0.85, 0.85), (0.05, 0.05, 0.05)]:
        for k, name in enumerate(("red", "blue", "green", "orange", "purple", "teal")):
            shape = fashion_test.images[fashion_test.labels == 1][k]  # trousers: mostly opaque
            image = render_product(shape, PALETTE[name], "solid", rng, background=background)
            buffer = io.BytesIO()
            Image.fromarray(image).save(buffer, format="PNG")
            prepared = prepare_image(buffer.getvalue())
            found = body_colour(prepared.rgb, prepared.mask, background=prepared.background)
            errors.append(error(found.rgb, PALETTE[name]))
            named += found.name == name
            total += 1
    assert named >= total - 2
    assert np.median(errors) < 12.0, errors


def test_store_palette_names_and_errors(tmp_path: Path) -> None:
    csv_file = tmp_path / "palette.csv"
    csv_file.write_text("name,hex\nScarlet,#c41e3a\ncobalt,#1f43a8\n")
    palette = load_palette(csv_file)
    assert set(palette) == {"scarlet", "cobalt"}
    assert nearest_name((0.8, 0.1, 0.2), palette)[0] == "scarlet"
    mask = np.ones((8, 8), bool)
    rgb = np.zeros((8, 8, 3), np.float32) + np.array([0.12, 0.26, 0.66], np.float32)
    found = body_colour(rgb, mask, palette, background=(1.0, 1.0, 1.0))
    assert found.name == "cobalt" and found.delta_e_to_name < 2
    json_file = tmp_path / "palette.json"
    json_file.write_text('{"moss": "#5b7a2b"}')
    assert list(load_palette(json_file)) == ["moss"]
    bad = tmp_path / "bad.csv"
    bad.write_text("red,#ff0000\nblue,#12\nred,#ff0001\nonly-one-cell\n")
    with pytest.raises(ValueError) as caught:
        load_palette(bad)
    message = str(caught.value)
    assert "line 2" in message and "line 3" in message and "line 4" in message
    with pytest.raises(ValueError, match="JSON object"):
        (tmp_path / "list.json").write_text("[1, 2]")
        load_palette(tmp_path / "list.json")


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="no foreground"):
        body_colour(np.zeros((4, 4, 3)), np.zeros((4, 4), bool))
    with pytest.raises(ValueError, match="must be"):
        body_colour(np.zeros((4, 4)), np.zeros((4, 4), bool))


def printed(colour: tuple[float, float, float], line: tuple[float, float, float],
            backdrop: tuple[float, float, float] = (0.96, 0.95, 0.93)
            ) -> tuple[np.ndarray, np.ndarray]:
    """(64, 64, 3) and its mask: a disc with diagonal print lines a third of a 9 px
    period wide, blurred as a resize and JPEG blur them (mixed pixels on every edge)."""
    from scipy import ndimage

    y, x = np.mgrid[0:64, 0:64]
    inside = (y - 32) ** 2 + (x - 32) ** 2 < 28 ** 2
    lines = ((x + y) % 9 < 3)[..., None]
    image = np.where(inside[..., None], np.where(lines, line, colour), backdrop)
    blurred = np.stack([ndimage.gaussian_filter(image[..., c], 1.0) for c in range(3)], -1)
    return blurred, inside


def test_uniform_pixels_keep_area_interiors_and_drop_edges() -> None:
    rgb, mask = printed((0.85, 0.64, 0.11), (0.45, 0.35, 0.12))
    chosen = uniform_pixels(rgb, mask, share=0.3)
    assert chosen.sum() <= 0.35 * mask.sum() and not (chosen & ~mask).any()
    y, x = np.mgrid[0:64, 0:64]
    phase = (x + y) % 9  # the body's areas are 3..8; their middle (5, 6) is uniform
    assert chosen[(phase >= 5) & (phase <= 6) & mask].mean() > 0.5
    assert chosen[((phase == 2) | (phase == 3)) & mask].mean() < 0.05  # line edges
    flat = np.full((20, 20, 3), 0.5)
    square = np.zeros((20, 20), bool)
    square[4:16, 4:16] = True
    kept = uniform_pixels(flat, square, share=0.3)  # ties: every inner pixel
    assert kept.sum() == 10 * 10 and not kept[4].any()
    tiny = np.zeros((20, 20), bool)
    tiny[5:8, 5:8] = True
    assert (uniform_pixels(flat, tiny) == tiny).all()  # too few inner pixels: the mask
    with pytest.raises(ValueError, match="share"):
        uniform_pixels(flat, square, share=0.0)
    with pytest.raises(ValueError, match="window"):
        uniform_pixels(flat, square, window=4)


@pytest.mark.parametrize("colour, line", [((0.85, 0.64, 0.11), (0.45, 0.35, 0.12)),
                                          ((0.12, 0.26, 0.66), (0.59, 0.64, 0.81))])
def test_printed_products_read_their_body_not_the_mixtures(
        colour: tuple[float, float, float], line: tuple[float, float, float]) -> None:
    rgb, mask = printed(colour, line)
    every = error(body_colour(rgb, mask, uniform_share=None).rgb, colour)
    uniform = error(body_colour(rgb, mask).rgb, colour)
    assert uniform < 3.0 and uniform < every / 2, (uniform, every)
