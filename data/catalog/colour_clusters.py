"""A product's body colour from its own pixels: k-means in CIELAB, the largest cluster wins.

Works on any photo, not only pigen's renders: the foreground pixels (the mask from
:mod:`~pigen.data.catalog.prepare`) are clustered in Lab, where distance is roughly
perceptual; the body is the cluster holding the most pixels, and its name is the
nearest palette colour by Delta-E (CIE76, Euclidean in Lab, as
:func:`~pigen.data.catalog.palette.delta_e76`).

Two things make a naive cluster mean read the wrong colour:

* a product's edges and thin parts let the backdrop blend through
  (``pixel = (1 - a) * backdrop + a * colour``), so one colour spreads along the ray
  from the backdrop towards it and k-means cuts that ray into pieces. Clusters whose
  directions from the backdrop agree (in sRGB, where the blend is linear) are merged
  back into one colour before the largest is picked;
* the merged body still mixes in backdrop. Its colour is read from its opaque
  pixels: the per-channel median of those reaching nearly as far from the backdrop
  as the colour's far end does;
* a printed product (stripes, herringbone, zigzag lines) has, besides its body and
  its print, pixels that are a mixture of the two: along every line edge, widened
  by resizing and JPEG's 4:2:0 chroma. They are neither colour, but they outnumber
  the thin print's own pixels and pull the body's cluster towards the print. Only
  the product's most locally uniform pixels are clustered (:func:`uniform_pixels`):
  the interiors of the body's and the print's areas, not the edges between them
  (nor the silhouette's edge, where the backdrop blends in).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np
from scipy import ndimage
from scipy.cluster.vq import kmeans2

from pigen.data.catalog.palette import PALETTE, RGB, from_hex, srgb_to_lab, to_hex

# Unit directions from the backdrop this close (cosine) are one colour seen through
# more or less backdrop. A render's darker pattern tone on red sits at 0.92.
SAME_RAY = 0.985
# The body colour is the median of its "opaque" pixels: those reaching at least this
# share of the colour's far end (95th percentile) away from the backdrop. An opaque
# product keeps almost all of its pixels (shading moves reach by a few per cent); a
# translucent render keeps only its nearly opaque ones.
OPAQUE_REACH = 0.85
FAR_END = 95
# Share of the product's inner pixels clustered: the most locally uniform ones. On the
# foreign catalog (bench/byo_catalog.py, 300 items, seed 0) colour Delta-E median was
# 5.24 with every pixel, 3.92 / 3.33 / 3.10 keeping 50 / 30 / 20%; 0.3 keeps solid
# and gradient products best on seed 1 (1.11, 1.29; 0.2 gave 1.35, 1.34) and leaves a
# real photo's small products enough pixels.
UNIFORM_SHARE = 0.3
UNIFORM_WINDOW = 3  # pixels a side of the neighbourhood whose spread says "uniform"
MIN_UNIFORM = 16  # fewer inner pixels than this: cluster the whole mask
MAX_PIXELS = 4096  # pixels clustered per image: a 64 px product has at most 4096 anyway
SEED = 0


@dataclass(frozen=True)
class BodyColour:
    """What colour a product is, and how sure the naming is."""

    rgb: RGB  # in [0, 1]
    hex: str  # "#rrggbb"
    name: str  # nearest palette name
    share: float  # share of the clustered (uniform) foreground pixels in the body's cluster(s)
    delta_e_to_name: float  # Delta-E 76 from rgb to the named palette colour


def body_colour(rgb: np.ndarray, mask: np.ndarray, palette: Mapping[str, RGB] | None = None,
                *, k: int = 3, background: RGB | None = None,
                uniform_share: float | None = UNIFORM_SHARE) -> BodyColour:
    """The body colour of one product image.

    Parameters
    ----------
    rgb
        (H, W, 3) float in [0, 1].
    mask
        (H, W) bool, True on the product.
    palette
        Names to choose from; pigen's :data:`~pigen.data.catalog.palette.PALETTE`
        when None.
    k
        Clusters in Lab (fewer when there are fewer distinct pixels).
    background
        The backdrop RGB; estimated as the median of the pixels off the mask when None.
    uniform_share
        Cluster only this share of the product's pixels, the most locally uniform
        (:func:`uniform_pixels`); None clusters every pixel of the mask.

    Raises
    ------
    ValueError
        On mismatched shapes or an empty mask.
    """
    if rgb.ndim != 3 or rgb.shape[-1] != 3 or mask.shape != rgb.shape[:2]:
        raise ValueError(f"rgb must be (H, W, 3) and mask (H, W); got {rgb.shape}, "
                         f"{mask.shape}")
    if not mask.any():
        raise ValueError("the mask marks no foreground pixel")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    names, anchors = _palette_arrays(palette)
    chosen = mask if uniform_share is None else uniform_pixels(rgb, mask, uniform_share)
    pixels = rgb[chosen].astype(np.float64)  # (P, 3)
    if len(pixels) > MAX_PIXELS:
        pixels = pixels[np.random.default_rng(SEED).choice(len(pixels), MAX_PIXELS, False)]
    backdrop = (np.asarray(background, np.float64) if background is not None
                else (np.median(rgb[~mask], axis=0) if (~mask).any() else np.ones(3)))
    lab = srgb_to_lab(pixels)  # (P, 3)
    assignment = _kmeans(lab, k)  # (P,) cluster per pixel
    body = _largest_colour(pixels, assignment, backdrop)  # (P,) bool
    median = _opaque_median(pixels[body], backdrop)  # (3,) sRGB
    colour = (float(median[0]), float(median[1]), float(median[2]))
    colour_lab = srgb_to_lab(median[None, :])[0]
    distances = np.linalg.norm(srgb_to_lab(anchors) - colour_lab, axis=1)  # (K,)
    nearest = int(distances.argmin())
    return BodyColour(rgb=colour, hex=to_hex(colour), name=names[nearest],
                      share=float(body.mean()), delta_e_to_name=float(distances[nearest]))


def uniform_pixels(rgb: np.ndarray, mask: np.ndarray, share: float = UNIFORM_SHARE,
                   window: int = UNIFORM_WINDOW) -> np.ndarray:
    """(H, W) bool: the ``share`` of the product's inner pixels whose neighbourhood
    varies least.

    A pixel's spread is the Lab distance between the per-channel maximum and minimum
    over its ``window`` x ``window`` neighbourhood: near zero inside an area of one
    colour, large on an edge, where pixels mix two colours. Only pixels whose whole
    neighbourhood lies on the mask count (the silhouette's edge mixes in the
    backdrop). Ties at the cut are all kept, so a flat product keeps every inner
    pixel; when fewer than ``MIN_UNIFORM`` pixels are inner, the mask is returned.

    Raises
    ------
    ValueError
        When ``share`` is not in (0, 1] or ``window`` is not odd and at least 3.
    """
    if not 0.0 < share <= 1.0:
        raise ValueError(f"share must be in (0, 1], got {share}")
    if window < 3 or window % 2 == 0:
        raise ValueError(f"window must be odd and at least 3, got {window}")
    inner = ndimage.binary_erosion(mask, np.ones((window, window), bool))  # (H, W)
    if inner.sum() < MIN_UNIFORM:
        return mask
    lab = srgb_to_lab(rgb.reshape(-1, 3).astype(np.float64)).reshape(rgb.shape)  # (H, W, 3)
    high = np.stack([ndimage.maximum_filter(lab[..., c], window) for c in range(3)], -1)
    low = np.stack([ndimage.minimum_filter(lab[..., c], window) for c in range(3)], -1)
    spread = np.linalg.norm(high - low, axis=-1)  # (H, W) Delta-E across the neighbourhood
    return inner & (spread <= np.quantile(spread[inner], share))


def nearest_name(rgb: RGB, palette: Mapping[str, RGB] | None = None) -> tuple[str, float]:
    """The palette name nearest ``rgb`` by Delta-E 76, and that distance."""
    names, anchors = _palette_arrays(palette)
    distances = np.linalg.norm(srgb_to_lab(anchors) - srgb_to_lab(np.array([rgb])), axis=1)
    nearest = int(distances.argmin())
    return names[nearest], float(distances[nearest])


def load_palette(path: Path) -> Mapping[str, RGB]:
    """A store's palette: CSV with ``name,hex`` rows (a header line is optional) or
    JSON ``{"name": "#rrggbb", ...}``. Names are lower-cased; raises ``ValueError``
    naming every bad row.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ValueError(f"cannot read palette {path}: {error.strerror or error}") from None
    entries: list[tuple[str, str, str]] = []  # (where, name, hex)
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"palette {path} is not valid JSON: {error}") from None
        if not isinstance(data, dict):
            raise ValueError(f"palette {path} must be a JSON object {{name: \"#rrggbb\"}}")
        entries = [(f"key {name!r}", str(name), str(code)) for name, code in data.items()]
    else:
        for line, row in enumerate(csv.reader(text.splitlines()), start=1):
            cells = [cell.strip() for cell in row]
            if not any(cells):
                continue
            if line == 1 and [c.lower() for c in cells[:2]] == ["name", "hex"]:
                continue
            if len(cells) != 2:
                entries.append((f"line {line}", "", f"<{len(cells)} columns, need name,hex>"))
                continue
            entries.append((f"line {line}", cells[0], cells[1]))
    palette: dict[str, RGB] = {}
    problems: list[str] = []
    for where, name, code in entries:
        name = name.strip().lower()
        if not name or len(name) > 32:
            problems.append(f"{where}: the name must be 1-32 characters")
            continue
        if name in palette:
            problems.append(f"{where}: {name!r} appears twice")
            continue
        try:
            palette[name] = from_hex(code.strip())
        except ValueError as error:
            problems.append(f"{where}: {error}")
    if problems:
        raise ValueError(f"palette {path} has bad rows: " + "; ".join(problems[:10]))
    if not palette:
        raise ValueError(f"palette {path} names no colour (rows are name,#rrggbb)")
    return MappingProxyType(palette)


def _palette_arrays(palette: Mapping[str, RGB] | None) -> tuple[list[str], np.ndarray]:
    chosen = PALETTE if palette is None else palette
    if not chosen:
        raise ValueError("the palette is empty")
    return list(chosen), np.array([chosen[n] for n in chosen], dtype=np.float64)


def _kmeans(lab: np.ndarray, k: int) -> np.ndarray:
    """(P, 3) -> (P,) cluster of each pixel; seeded k-means++, k cut to distinct colours."""
    distinct = len(np.unique(np.round(lab, 1), axis=0))
    k = min(k, distinct)
    if k <= 1:
        return np.zeros(len(lab), dtype=np.int64)
    _, assignment = kmeans2(lab, k, minit="++", seed=SEED)
    return np.asarray(assignment, dtype=np.int64)


def _largest_colour(pixels: np.ndarray, assignment: np.ndarray, backdrop: np.ndarray
                    ) -> np.ndarray:
    """(P,) bool: the pixels of the largest colour, clusters on one backdrop ray merged."""
    clusters = [c for c in np.unique(assignment)]
    offsets = {c: pixels[assignment == c].mean(axis=0) - backdrop for c in clusters}
    group = {c: c for c in clusters}  # union of clusters that lie on one ray
    for i, a in enumerate(clusters):
        for b in clusters[i + 1:]:
            na, nb = np.linalg.norm(offsets[a]), np.linalg.norm(offsets[b])
            if min(na, nb) < 1e-6:
                continue
            if float(offsets[a] @ offsets[b]) / (na * nb) >= SAME_RAY:
                old, new = group[b], group[a]
                group = {c: (new if g == old else g) for c, g in group.items()}
    members = np.array([group[int(c)] for c in assignment])  # (P,) group per pixel
    groups, counts = np.unique(members, return_counts=True)
    return members == groups[counts.argmax()]


def _opaque_median(pixels: np.ndarray, backdrop: np.ndarray) -> np.ndarray:
    """(n, 3) sRGB of one colour's pixels -> (3,) the median of its most opaque share."""
    reach = np.linalg.norm(pixels - backdrop, axis=1)  # (n,) how far from the backdrop
    return np.median(pixels[reach >= OPAQUE_REACH * np.percentile(reach, FAR_END)], axis=0)


__all__ = ["BodyColour", "body_colour", "load_palette", "nearest_name", "uniform_pixels"]
