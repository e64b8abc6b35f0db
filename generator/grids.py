"""Sample grids, to look at what a model draws.

* condition grids: rows = categories, columns = colours (does each part take?);
* seed grids: rows = conditions, columns = seeds (is every seed a different product?).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from pigen.data.catalog.palette import PALETTE
from pigen.data.conditions import ConditionLayout, one_hot, stack
from pigen.generator.models import Generator
from pigen.generator.sampling import sample, to_uint8

GRID_COLOURS = ("red", "orange", "yellow", "green", "teal", "blue", "navy", "purple", "pink",
                "brown", "grey", "white")
GAP = 2  # pixels between cells


def condition_grid(layout: ConditionLayout, pattern: str = "solid",
                   colours: tuple[str, ...] = GRID_COLOURS) -> np.ndarray:
    """(categories x colours, D) conditions in row-major order."""
    return stack([one_hot(layout, c, PALETTE[name], pattern)
                  for c in layout.categories for name in colours])


def save_condition_grid(model: Generator, layout: ConditionLayout, path: Path,
                        pattern: str | None = None, seed: int = 0, scale: int = 2) -> Path:
    """Write a PNG grid; with ``pattern=None`` the column's pattern cycles through all of them."""
    colours = GRID_COLOURS
    rows = []
    for k, _ in enumerate(layout.categories):
        cells = []
        for j, name in enumerate(colours):
            pat = pattern or layout.patterns[(j // 3) % layout.n_patterns]
            cells.append(one_hot(layout, k, PALETTE[name], pat).to_array())
        rows.append(np.stack(cells))
    conditions = np.concatenate(rows)
    seeds = [seed * 100_003 + i for i in range(len(conditions))]
    images = to_uint8(sample(model, conditions, seeds))  # (N, R, R, 3)
    return save_image_grid(images, layout.n_categories, len(colours), path, scale)


#: (category, colour, pattern) rows of the README's seed grid: the three shapes that
#: used to look alike, the dark colours that used to vanish, and every pattern.
SEED_GRID_ROWS: tuple[tuple[str, str, str], ...] = (
    ("Shirt", "white", "solid"), ("Coat", "white", "solid"), ("Pullover", "white", "solid"),
    ("Dress", "navy", "dotted"), ("T-shirt/top", "black", "striped"),
    ("Sneaker", "red", "solid"), ("Bag", "brown", "checked"), ("Ankle boot", "grey", "solid"),
)


def save_seed_grid(model: Generator, layout: ConditionLayout, path: Path,
                   rows: tuple[tuple[str, str, str], ...] = SEED_GRID_ROWS, seeds: int = 8,
                   first_seed: int = 0, scale: int = 3) -> Path:
    """Write a PNG with one row per (category, colour, pattern) and ``seeds`` columns."""
    conditions = stack([one_hot(layout, category, PALETTE[colour], pattern)
                        for category, colour, pattern in rows for _ in range(seeds)])
    seed_list = [first_seed + k for _ in rows for k in range(seeds)]
    images = to_uint8(sample(model, conditions, seed_list))
    return save_image_grid(images, len(rows), seeds, path, scale)


def save_image_grid(images: np.ndarray, rows: int, cols: int, path: Path,
                    scale: int = 2) -> Path:
    """Tile (rows * cols, R, R, 3) uint8 images row-major into one PNG (nearest upscale)."""
    side = images.shape[1] * scale
    sheet = np.full((rows * (side + GAP) + GAP, cols * (side + GAP) + GAP, 3), 255, np.uint8)
    for index, image in enumerate(images[: rows * cols]):
        r, c = divmod(index, cols)
        big = np.kron(image, np.ones((scale, scale, 1), dtype=np.uint8))
        y, x = GAP + r * (side + GAP), GAP + c * (side + GAP)
        sheet[y:y + side, x:x + side] = big
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(sheet).save(path)
    return path
