"""One picture of a catalog: a row per category, so people can look instead of read."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from PIL import Image, ImageDraw

LABEL_WIDTH = 96  # pixels for the category name at the left of each row
GAP = 2  # white pixels between tiles: light-backdrop products would run into each other


def contact_sheet(items: pd.DataFrame, images_dir: Path, per_category: int = 12,
                  scale: int = 2) -> Image.Image:
    """A grid of the first ``per_category`` images of each category (rows sorted by name).

    ``items`` needs ``category`` and ``image`` (file name inside ``images_dir``).
    """
    categories = sorted(items["category"].unique())
    tile = 32 * scale
    step = tile + GAP
    sheet = Image.new("RGB", (LABEL_WIDTH + per_category * step, len(categories) * step),
                      (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for row, category in enumerate(categories):
        draw.text((4, row * step + tile // 2 - 5), str(category)[:14], fill=(0, 0, 0))
        chosen = items[items["category"] == category].head(per_category)
        for col, name in enumerate(chosen["image"]):
            with Image.open(images_dir / str(name)) as image:
                tile_image = image.convert("RGB").resize((tile, tile), Image.Resampling.NEAREST)
            sheet.paste(tile_image, (LABEL_WIDTH + col * step, row * step))
    return sheet


def save_contact_sheet(items: pd.DataFrame, images_dir: Path, path: Path, **options: int
                       ) -> Path:
    contact_sheet(items, images_dir, **options).save(path)
    return path


__all__ = ["contact_sheet", "save_contact_sheet"]
