"""Preparing store photos: odd sizes, formats, modes and backdrops, and the refusals."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pigen.data.catalog.prepare import (
    UnusableImage,
    kept_indices,
    prepare_image,
    prepare_images,
)

RED = (200, 30, 30)


def product(width: int = 120, height: int = 90, background: tuple[int, int, int] = (235, 235,
            235), colour: tuple[int, int, int] = RED) -> np.ndarray:
    """(H, W, 3) uint8: an off-centre ellipse 'product' on a flat backdrop."""
    y, x = np.mgrid[0:height, 0:width]
    inside = (((y - height * 0.5) / (height * 0.3)) ** 2
              + ((x - width * 0.4) / (width * 0.2)) ** 2) < 1
    image = np.empty((height, width, 3), np.uint8)
    image[:] = background
    image[inside] = colour
    return image


def encode(pixels: np.ndarray | Image.Image, fmt: str, **options: object) -> bytes:
    image = pixels if isinstance(pixels, Image.Image) else Image.fromarray(pixels)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def assert_red_product(prepared_mask: np.ndarray, rgb: np.ndarray) -> None:
    assert prepared_mask.shape == (64, 64) and rgb.shape == (64, 64, 3)
    assert 0.2 < prepared_mask.mean() < 0.9  # cropped tight, not the whole canvas
    centre = rgb[prepared_mask].mean(axis=0)
    assert centre[0] > 0.6 and centre[1] < 0.3  # the product is the red ellipse


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_formats_light_backdrop(fmt: str) -> None:
    prepared = prepare_image(encode(product(), fmt))
    assert prepared.light_background
    assert np.allclose(prepared.background, (235 / 255,) * 3, atol=0.03)
    assert_red_product(prepared.mask, prepared.rgb)
    assert prepared.rgb.dtype == np.float32 and prepared.rgb.min() >= 0 and prepared.rgb.max() <= 1


def test_dark_backdrop_and_resolution() -> None:
    prepared = prepare_image(encode(product(background=(15, 15, 20)), "PNG"), 32)
    assert not prepared.light_background
    assert prepared.rgb.shape == (32, 32, 3)
    # padded square with the backdrop: the corners are dark
    assert prepared.rgb[0, 0].max() < 0.15


def test_very_wide_and_jpeg_artefacts() -> None:
    wide = product(width=1200, height=80)
    prepared = prepare_image(encode(wide, "JPEG", quality=10))
    columns = np.flatnonzero(prepared.mask.any(axis=0))
    assert columns[-1] - columns[0] > 48  # the long product fills the square's width
    assert prepared.rgb[prepared.mask].mean(axis=0)[0] > 0.6


def test_transparent_png_is_composited_on_white() -> None:
    rgba = np.zeros((80, 80, 4), np.uint8)
    rgba[20:60, 25:55] = (*RED, 255)
    prepared = prepare_image(encode(Image.fromarray(rgba, "RGBA"), "PNG"))
    assert np.allclose(prepared.background, (1, 1, 1), atol=0.01)
    assert_red_product(prepared.mask, prepared.rgb)


def test_cmyk_jpeg_and_greyscale() -> None:
    cmyk = Image.fromarray(product()).convert("CMYK")
    assert_red_product(*(lambda p: (p.mask, p.rgb))(prepare_image(encode(cmyk, "JPEG"))))
    grey = Image.fromarray(product(colour=(40, 40, 40))).convert("L")
    prepared = prepare_image(encode(grey, "PNG"))
    assert prepared.light_background and prepared.rgb[prepared.mask].mean() < 0.3


def test_product_touching_the_border_keeps_the_backdrop() -> None:
    pixels = product(width=100, height=100)
    pixels[40:100, 30:70] = RED  # runs off the bottom edge
    prepared = prepare_image(encode(pixels, "PNG"))
    assert np.allclose(prepared.background, (235 / 255,) * 3, atol=0.03)


@pytest.mark.parametrize(("data", "reason"), [
    (b"not an image at all", "undecodable"),
    (encode(product(width=10, height=40), "PNG"), "too-small"),
    (encode(np.full((64, 64, 3), 200, np.uint8), "PNG"), "blank"),
])
def test_unusable_images_say_why(data: bytes, reason: str) -> None:
    with pytest.raises(UnusableImage) as caught:
        prepare_image(data)
    assert caught.value.reason == reason
    assert str(caught.value)


def test_truncated_jpeg_is_undecodable() -> None:
    data = encode(product(), "JPEG")
    with pytest.raises(UnusableImage) as caught:
        prepare_image(data[: len(data) // 3])
    assert caught.value.reason == "undecodable"


def huge_png_header(width: int, height: int) -> bytes:
    """A PNG that claims ``width`` x ``height`` (a bomb by its header; no pixels needed)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b""))
            + chunk(b"IEND", b""))


def test_decompression_bomb_refused_by_header() -> None:
    with pytest.raises(UnusableImage) as caught:
        prepare_image(huge_png_header(20_000, 20_000))
    assert caught.value.reason == "too-large"


def test_paths_stay_inside_root_and_batches_skip(tmp_path: Path) -> None:
    root = tmp_path / "images"
    root.mkdir()
    good = root / "good.png"
    good.write_bytes(encode(product(), "PNG"))
    (root / "blank.png").write_bytes(encode(np.full((64, 64, 3), 9, np.uint8), "PNG"))
    outside = tmp_path / "outside.png"
    outside.write_bytes(encode(product(), "PNG"))
    with pytest.raises(UnusableImage) as caught:
        prepare_image(root / ".." / "outside.png", root=root)
    assert caught.value.reason == "outside"
    paths = [good, root / "blank.png", root / "missing.png", good]
    images, masks, skipped = prepare_images(paths, 48, progress=False, root=root)
    assert images.shape == (2, 48, 48, 3) and masks.shape == (2, 48, 48)
    assert [(i, e.reason) for i, e in skipped] == [(1, "blank"), (2, "missing")]
    assert kept_indices(len(paths), skipped) == [0, 3]
