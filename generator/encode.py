"""Image bytes for files and HTTP: PNG (lossless, deterministic) and WebP."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

MAX_DISPLAY_SIZE = 512


def png_bytes(image: np.ndarray, size: int | None = None) -> bytes:
    """(R, R, 3) uint8 -> PNG bytes; ``size`` upscales (nearest) for display."""
    return _encode(image, "PNG", size, optimize=False, compress_level=6)


def webp_bytes(image: np.ndarray, size: int | None = None, quality: int = 90) -> bytes:
    """(R, R, 3) uint8 -> WebP bytes (lossy, ``quality`` 0-100)."""
    return _encode(image, "WEBP", size, quality=quality, method=4)


def _encode(image: np.ndarray, fmt: str, size: int | None, **options: object) -> bytes:
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"image must be (H, W, 3) uint8, got {image.shape} {image.dtype}")
    picture = Image.fromarray(image, mode="RGB")
    if size is not None:
        if not image.shape[0] <= size <= MAX_DISPLAY_SIZE:
            raise ValueError(f"size must be between {image.shape[0]} and {MAX_DISPLAY_SIZE}")
        # Nearest keeps a 32 px product crisp (bilinear blurs it into mush).
        picture = picture.resize((size, size), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    picture.save(buffer, format=fmt, **options)
    return buffer.getvalue()
