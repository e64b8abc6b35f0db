"""A small store catalog of real image files outside the built-in layout, for tests.

Three categories (``bowl``, ``lamp``, ``vase``) drawn as distinct silhouettes,
two patterns (``plain``, ``striped``), four colours, on a white studio backdrop
with a little noise, like product photos. Nothing here knows the generator.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw

CATEGORIES = ("bowl", "lamp", "vase")
PATTERNS = ("plain", "striped")
COLOURS = ("#b03a2e", "#1f618d", "#1e8449", "#7d3c98")


def draw_product(category: str, colour: str, pattern: str, side: int = 96,
                 seed: int = 0) -> Image.Image:
    """One product photo: the category's silhouette in ``colour`` on a white backdrop."""
    rng = np.random.default_rng(seed)
    rgb = tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))
    mask = Image.new("L", (side, side), 0)
    draw = ImageDraw.Draw(mask)
    jitter = int(rng.integers(-4, 5))
    m = side // 6 + jitter
    if category == "bowl":
        draw.pieslice((m, m - side // 3, side - m, side - m), 0, 180, fill=255)
    elif category == "lamp":
        draw.polygon([(side // 2, m), (side - m, side // 2), (m, side // 2)], fill=255)
        draw.rectangle((side // 2 - 4, side // 2, side // 2 + 4, side - m), fill=255)
    else:
        draw.ellipse((side // 3, m, 2 * side // 3, side - m), fill=255)
    body = np.zeros((side, side, 3), np.float32) + np.array(rgb, np.float32)
    if pattern == "striped":
        stripes = (np.arange(side) // 5) % 2 == 0
        body[stripes, :, :] = body[stripes, :, :] * 0.45 + 255 * 0.55
    alpha = np.asarray(mask, np.float32)[..., None] / 255.0
    backdrop = np.full((side, side, 3), 250.0, np.float32)
    pixels = body * alpha + backdrop * (1 - alpha) + rng.normal(0, 2.0, (side, side, 3))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def write_photo_catalog(folder: Path, n_items: int = 24, with_attributes: bool = True
                        ) -> pd.DataFrame:
    """Write ``n_items`` PNGs into ``folder``; the catalog frame (item_id, category,
    colour, pattern, image), colour and pattern left empty without ``with_attributes``."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for k in range(n_items):
        category = CATEGORIES[k % len(CATEGORIES)]
        colour = COLOURS[(k // 3) % len(COLOURS)]
        pattern = PATTERNS[(k // 2) % len(PATTERNS)]
        name = f"photo-{k:03d}.png"
        draw_product(category, colour, pattern, seed=k).save(folder / name)
        rows.append({"item_id": f"p-{k:03d}", "category": category,
                     "colour": colour if with_attributes else "",
                     "pattern": pattern if with_attributes else "", "image": name})
    return pd.DataFrame(rows)
