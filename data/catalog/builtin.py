"""The built-in catalog: real Fashion-MNIST shapes, recoloured and patterned by a seeded recipe.

Every attribute has ground truth (category from the label, colour and pattern from
the recipe), and ``catalog.csv`` plus the seed re-make every PNG bit for bit: the
colour is stored as 8-bit hex and rendered from that same hex, and each item's
pattern geometry comes from its own random stream (:func:`item_rng`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from PIL import Image
from tqdm import tqdm

from pigen.data.catalog.palette import COLOUR_NAMES, PALETTE, from_hex, to_hex
from pigen.data.catalog.render import PATTERNS, render_product
from pigen.data.datasets.fashion_mnist import CLASS_NAMES, FashionMNIST

#: Category names, in label order: the Fashion-MNIST classes.
CATEGORIES: tuple[str, ...] = CLASS_NAMES
CSV_COLUMNS = (
    "item_id",
    "category",
    "colour",
    "colour_name",
    "pattern",
    "image",
    "source_index",
    "label",
)
# Independent random streams per seed, so changing one draw never shifts another.
_SELECTION, _COLOURS, _PATTERNS, _GEOMETRY = range(4)
PNG_COMPRESS_LEVEL = 1  # 32x32 images: speed matters more than a few hundred bytes


@dataclass(frozen=True)
class CatalogConfig:
    """How to draw the built-in catalog; same config and data -> same files."""

    n_items: int = 2000  # 200 per category: enough for a 32x32 conditional generator
    seed: int = 0
    # Std of Gaussian noise added to each palette channel, so colour is a continuous
    # condition around 13 anchors rather than 13 exact values.
    colour_jitter: float = 0.05
    # Relative weights of PATTERNS (solid, striped, checked, dotted); need not sum to 1.
    pattern_weights: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0)
    # The Fashion-MNIST split the shapes come from; source_index points into it.
    split: Literal["train", "test"] = "train"

    def __post_init__(self) -> None:
        if self.n_items < 1:
            raise ValueError(f"n_items must be at least 1, got {self.n_items}")
        if self.colour_jitter < 0:
            raise ValueError(f"colour_jitter must be >= 0, got {self.colour_jitter}")
        if len(self.pattern_weights) != len(PATTERNS):
            raise ValueError(
                f"pattern_weights needs {len(PATTERNS)} values for {PATTERNS}, "
                f"got {len(self.pattern_weights)}"
            )
        if min(self.pattern_weights) < 0 or sum(self.pattern_weights) <= 0:
            raise ValueError(
                f"pattern_weights must be >= 0 with a positive sum, got {self.pattern_weights}"
            )
        if self.split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {self.split!r}")


def item_rng(seed: int, item_number: int) -> np.random.Generator:
    """The pattern-geometry stream of item ``item_number`` (1-based): items re-render alone."""
    return np.random.default_rng(np.random.SeedSequence([seed, _GEOMETRY, item_number]))


def build_builtin_catalog(
    config: CatalogConfig, fashion: FashionMNIST, out_dir: Path, progress: bool = False
) -> pd.DataFrame:
    """Draw, render and write the catalog.

    Picks ``n_items`` shapes balanced across the 10 categories (any remainder goes to
    seeded-random categories), a palette colour plus jitter and a pattern for each,
    renders them with :func:`~pigen.data.catalog.render.render_product`, and writes
    ``out_dir/images/<item_id>.png`` and ``out_dir/catalog.csv``. Existing files of the
    same names are overwritten; others are left alone.

    Returns
    -------
    pd.DataFrame
        One row per item, columns :data:`CSV_COLUMNS`: ``item_id`` ("item-00001"),
        ``category``, ``colour`` ("#rrggbb", jittered), ``colour_name`` (palette
        name before jitter), ``pattern``, ``image`` (file name under ``images/``),
        ``source_index`` (row in the Fashion-MNIST split), ``label`` (0..9).
    """
    if fashion.split != config.split:
        raise ValueError(f"config asks for the {config.split!r} split, got {fashion.split!r}")
    sources = _pick_sources(config, fashion.labels)  # (n,) indexes into the split
    n = len(sources)
    colour_rng = _stream(config.seed, _COLOURS)
    names = colour_rng.integers(len(COLOUR_NAMES), size=n)  # (n,) uniform over the palette
    anchors = np.array([PALETTE[COLOUR_NAMES[i]] for i in names])  # (n, 3)
    jittered = np.clip(anchors + colour_rng.normal(0.0, config.colour_jitter, (n, 3)), 0.0, 1.0)
    weights = np.asarray(config.pattern_weights, dtype=np.float64)
    patterns = _stream(config.seed, _PATTERNS).choice(
        len(PATTERNS), size=n, p=weights / weights.sum()
    )

    width = max(5, len(str(n)))
    image_dir = out_dir / "images"
    image_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for k in tqdm(range(n), desc="rendering catalog", disable=not progress, unit="item"):
        item_id = f"item-{k + 1:0{width}d}"
        label = int(fashion.labels[sources[k]])
        row = {
            "item_id": item_id,
            "category": CATEGORIES[label],
            "colour": to_hex(_rgb(jittered[k])),  # rendered from this hex, not the float
            "colour_name": COLOUR_NAMES[names[k]],
            "pattern": PATTERNS[patterns[k]],
            "image": f"{item_id}.png",
            "source_index": int(sources[k]),
            "label": label,
        }
        image = render_item(row, fashion, config.seed)  # (32, 32, 3) uint8
        Image.fromarray(image).save(
            image_dir / row["image"], format="PNG", compress_level=PNG_COMPRESS_LEVEL
        )
        rows.append(row)
    frame = pd.DataFrame(rows, columns=list(CSV_COLUMNS))
    frame.to_csv(out_dir / "catalog.csv", index=False, lineterminator="\n")
    return frame


def render_item(row: Mapping[str, object], fashion: FashionMNIST, seed: int) -> np.ndarray:
    """Re-make one catalog image (32, 32, 3) uint8 from its ``catalog.csv`` row and the seed."""
    item_number = int(str(row["item_id"]).rsplit("-", 1)[1])
    shape = fashion.images[int(str(row["source_index"]))]  # (28, 28) uint8
    colour = from_hex(str(row["colour"]))
    return render_product(shape, colour, str(row["pattern"]), item_rng(seed, item_number))


def _stream(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, stream]))


def _pick_sources(config: CatalogConfig, labels: np.ndarray) -> np.ndarray:
    """Indexes of ``n_items`` shapes, as even across categories as the count allows, shuffled."""
    rng = _stream(config.seed, _SELECTION)
    n_classes = len(CATEGORIES)
    counts = np.full(n_classes, config.n_items // n_classes)
    counts[rng.permutation(n_classes)[: config.n_items % n_classes]] += 1
    chosen = []
    for label, count in enumerate(counts):
        pool = np.flatnonzero(labels == label)
        if count > len(pool):
            raise ValueError(
                f"{CATEGORIES[label]!r} has {len(pool)} shapes in this split, {count} wanted"
            )
        chosen.append(rng.choice(pool, size=count, replace=False))
    return rng.permutation(np.concatenate(chosen))


def _rgb(values: np.ndarray) -> tuple[float, float, float]:
    return (float(values[0]), float(values[1]), float(values[2]))
