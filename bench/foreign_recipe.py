"""A catalog pigen has never seen: Fashion-MNIST *test* shapes photographed another way.

``bench/byo_catalog.py`` proves that pigen learns a store's own attributes from
its photos. The photos must therefore not come from pigen's recipe
(``data/catalog/render.py``): everything here is drawn differently.

* **palette** — eight dyes with their own names and values (:data:`FOREIGN_PALETTE`);
  none is one of pigen's thirteen colours;
* **textures** — ``solid`` plus three pigen never draws: ``herringbone``
  (horizontal bands of 45-degree lines leaning alternately left and right,
  broken at the seams), ``zigzag`` (continuous horizontal chevron lines) and
  ``gradient`` (an ombre: the body colour fading into a contrasting tone over
  part of the product);
* **product** — an opaque object (the shape's intensity sets a feathered
  silhouette and a mild shading, up to 8% darker), not pigen's translucent tint;
* **photo** — an off-white, light-grey or cream backdrop with a slight tint
  jitter and pixel noise; random margins; canvases 48-160 px a side with a
  random aspect ratio (up to 1.6:1); JPEG at a random quality from 60 to 95.

Texture geometry scales with the product (a period of 9-12% of its side), as a
fabric's weave does in a photo; the product keeps the majority of its pixels
in the body colour, so "the body colour" is well defined.

The catalog a store would upload is ``catalog.csv`` (item_id, category, image);
the truth (colour, texture, and how each photo was made) goes to ``truth.csv``,
which the bench reads only to score pigen and never ingests.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np
from PIL import Image

RGB = tuple[float, float, float]


def _rgb(code: str) -> RGB:
    return tuple(int(code[i:i + 2], 16) / 255 for i in (1, 3, 5))  # type: ignore[return-value]


#: The foreign store's dyes, name -> RGB in [0, 1]. Chosen apart from each other
#: (CIE76 Delta-E >= 20), from every backdrop (>= 30) and from pigen's palette (> 5).
FOREIGN_PALETTE: Mapping[str, RGB] = MappingProxyType({
    "scarlet": _rgb("#c41e3a"),
    "mustard": _rgb("#d9a21b"),
    "moss": _rgb("#5b7a2b"),
    "cobalt": _rgb("#1f43a8"),
    "plum": _rgb("#6e2a5f"),
    "coral": _rgb("#ee6f57"),
    "slate": _rgb("#3e4c5e"),
    "rust": _rgb("#a4471d"),
})
TEXTURES: tuple[str, ...] = ("solid", "herringbone", "zigzag", "gradient")
#: Studio backdrops, name -> RGB in [0, 1]; each photo jitters its own by up to 1.5%.
BACKDROPS: Mapping[str, RGB] = MappingProxyType({
    "off-white": (0.965, 0.960, 0.945),
    "light-grey": (0.870, 0.875, 0.880),
    "cream": (0.960, 0.925, 0.830),
})
#: The store's own names for the ten Fashion-MNIST classes, in label order.
CATEGORIES: tuple[str, ...] = ("tee", "trousers", "jumper", "dress", "coat", "sandal",
                               "shirt", "trainer", "bag", "boot")
MIN_SIDE, MAX_SIDE = 48, 160  # canvas pixels per side
MAX_ASPECT = 1.6  # long side / short side at most
MARGIN = (0.08, 0.40)  # share of the short side left around the product, both sides together
QUALITY = (60, 95)  # JPEG quality, inclusive
PERIOD_SHARE = (0.09, 0.12)  # texture period as a share of the product's side
MIN_PERIOD = 6  # pixels: finer would be mush after JPEG
BACKDROP_NOISE = 0.012  # per-pixel Gaussian noise on the backdrop (sd, in [0, 1] units)
SHADING = 0.08  # the darkest parts of a product are this much darker than its dye
INK = np.array([0.12, 0.11, 0.13])  # what a light dye's texture lines are printed in
CHALK = np.array([0.97, 0.96, 0.93])  # ... and a dark dye's
LIGHT_DYE_LUMA = 0.45  # at or above: dark lines, below: light lines


@dataclass(frozen=True)
class ForeignItem:
    """One product photo and the truth about it (one row of ``truth.csv``)."""

    item_id: str
    category: str
    colour_name: str
    colour: str  # the dye, #rrggbb
    texture: str
    backdrop: str
    width: int
    height: int
    quality: int
    shape_index: int  # row of the Fashion-MNIST test split
    image: str  # file name, relative to the images folder


@dataclass(frozen=True)
class ForeignCatalog:
    """Where :func:`build_foreign_catalog` wrote things, and the truth in memory."""

    catalog_csv: Path  # item_id, category, image: what the store uploads
    truth_csv: Path  # the true attributes, kept aside
    images_dir: Path
    items: tuple[ForeignItem, ...]


def luma(rgb: np.ndarray) -> float:
    """Perceived brightness in [0, 1] (BT.601)."""
    return float(0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2])


def line_tone(dye: np.ndarray) -> np.ndarray:
    """(3,) the colour texture lines are printed in: ink on light dyes, chalk on dark."""
    target = INK if luma(dye) >= LIGHT_DYE_LUMA else CHALK
    return 0.45 * dye + 0.55 * target


def texture_weight(texture: str, side: int, rng: np.random.Generator,
                   product: np.ndarray | None = None) -> np.ndarray:
    """(side, side) float in [0, 1]: how far each product pixel turns to the line tone.

    ``product`` ((side, side) bool, default: the whole square) is where the product
    is: an ombre runs across the product itself, not across its bounding square,
    or on a narrow product (trousers, a sandal) it would fade outside it and the
    photo would show a plain product labelled ``gradient``. Draws only what the
    texture needs from ``rng`` (nothing for ``"solid"``).
    """
    if texture == "solid":
        return np.zeros((side, side))
    if texture not in TEXTURES:
        raise ValueError(f"unknown texture {texture!r}; expected one of {TEXTURES}")
    y, x = np.mgrid[0:side, 0:side].astype(np.float64)  # (side, side) each
    if texture == "gradient":
        angle = rng.uniform(0, 2 * np.pi)
        along = x * np.cos(angle) + y * np.sin(angle)
        span = along[product] if product is not None and product.any() else along
        t = (along - span.min()) / max(span.max() - span.min(), 1e-9)  # 0..1 across
        start = rng.uniform(0.5, 0.65)  # the first 50-65% of the way stays the plain dye
        return np.clip((t - start) / (1 - start), 0, 1) * rng.uniform(0.8, 1.0)
    period = max(MIN_PERIOD, round(side * rng.uniform(*PERIOD_SHARE)))
    width = max(2, round(period / 3))  # lines cover about a third of the product
    phase = rng.uniform(0, period)
    if texture == "herringbone":
        # Horizontal bands of 45-degree lines, each band leaning the other way and
        # offset by half a period, so the lines break at the seams (a chevron does not).
        band = round(1.5 * period)
        row = (y + rng.integers(band)) // band
        lean = np.where(row % 2 == 0, 1.0, -1.0)
        shift = (row % 2) * period / 2
        return (((x + lean * y + phase + shift) % period) < width).astype(np.float64)
    # zigzag: horizontal lines bent into chevrons of half-width `period`
    amplitude = period * rng.uniform(0.6, 0.9)
    tri = amplitude * np.abs(((x + rng.uniform(0, 2 * period)) / period) % 2 - 1)
    return (((y + tri + phase) % period) < width).astype(np.float64)


def canvas_size(rng: np.random.Generator) -> tuple[int, int]:
    """(width, height), each 48-160 px, long / short at most 1.6."""
    while True:
        width, height = (int(v) for v in rng.integers(MIN_SIDE, MAX_SIDE + 1, size=2))
        if max(width, height) <= MAX_ASPECT * min(width, height):
            return width, height


def render_photo(shape: np.ndarray, dye: RGB, texture: str, backdrop: RGB,
                 rng: np.random.Generator) -> np.ndarray:
    """One product photo before compression: (H, W, 3) uint8.

    Parameters
    ----------
    shape
        (28, 28) uint8 Fashion-MNIST shape, 0 = nothing.
    dye, backdrop
        RGB in [0, 1].
    texture
        One of :data:`TEXTURES`.
    rng
        Draws the canvas, margins, placement, texture geometry and noise.
    """
    if shape.shape != (28, 28):
        raise ValueError(f"shape must be (28, 28), got {shape.shape}")
    width, height = canvas_size(rng)
    side = int(min(width, height) * (1 - rng.uniform(*MARGIN)))  # the product's square
    left = int(rng.integers(0, width - side + 1))
    top = int(rng.integers(0, height - side + 1))
    # 1. backdrop: jittered tint plus pixel noise
    tint = np.clip(np.asarray(backdrop) + rng.uniform(-0.015, 0.015, size=3), 0, 1)
    canvas = tint + rng.normal(0, BACKDROP_NOISE, size=(height, width, 3))  # (H, W, 3)
    # 2. the product: an opaque, feathered silhouette with mild shading
    intensity = np.asarray(Image.fromarray(shape).resize((side, side), Image.Resampling.BICUBIC),
                           dtype=np.float64) / 255.0  # (side, side)
    alpha = np.clip((intensity - 0.08) / 0.35, 0, 1)[..., None]  # (side, side, 1)
    shade = 1.0 - SHADING * (1.0 - np.clip(intensity, 0, 1))[..., None]
    body = np.asarray(dye, dtype=np.float64)
    weight = texture_weight(texture, side, rng, product=alpha[..., 0] > 0.5)[..., None]
    colour = (body + weight * (line_tone(body) - body)) * shade  # (side, side, 3)
    region = canvas[top:top + side, left:left + side]
    canvas[top:top + side, left:left + side] = (1 - alpha) * region + alpha * colour
    return np.clip(np.rint(canvas * 255), 0, 255).astype(np.uint8)


def jpeg_bytes(pixels: np.ndarray, quality: int) -> bytes:
    """The photo as a baseline JPEG (4:2:0 chroma, as most cameras and shops save it)."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def draw_items(shapes: np.ndarray, labels: np.ndarray, n: int, seed: int,
               exclude: Sequence[int] = ()) -> list[tuple[int, str, str, str]]:
    """``n`` (shape index, category, dye name, texture) draws, textures balanced.

    Shapes are drawn without replacement from those not in ``exclude`` (so a
    judge's training renders never share a shape with the catalog).
    """
    rng = np.random.default_rng(seed)
    free = np.setdiff1d(np.arange(len(shapes)), np.asarray(exclude, dtype=np.int64))
    if n > len(free):
        raise ValueError(f"{n} items asked for, only {len(free)} shapes are free")
    chosen = np.sort(rng.choice(free, size=n, replace=False))
    textures = rng.permutation(np.resize(np.arange(len(TEXTURES)), n))
    dyes = rng.integers(len(FOREIGN_PALETTE), size=n)
    names = tuple(FOREIGN_PALETTE)
    return [(int(i), CATEGORIES[int(labels[i])], names[int(d)], TEXTURES[int(t)])
            for i, d, t in zip(chosen, dyes, textures, strict=True)]


@dataclass(frozen=True)
class Photo:
    """One compressed photo and how it was made."""

    data: bytes  # JPEG
    backdrop: str
    width: int
    height: int
    quality: int


def render_item(shape: np.ndarray, dye_name: str, texture: str, rng: np.random.Generator
                ) -> Photo:
    """One product photo of ``shape`` in ``dye_name`` and ``texture``, on a random backdrop."""
    backdrop = tuple(BACKDROPS)[int(rng.integers(len(BACKDROPS)))]
    pixels = render_photo(shape, FOREIGN_PALETTE[dye_name], texture, BACKDROPS[backdrop], rng)
    quality = int(rng.integers(QUALITY[0], QUALITY[1] + 1))
    return Photo(jpeg_bytes(pixels, quality), backdrop, pixels.shape[1], pixels.shape[0],
                 quality)


def render_set(shapes: np.ndarray, draws: Sequence[tuple[int, str, str, str]], seed: int,
               progress: bool = False, desc: str = "rendering") -> list[bytes]:
    """JPEG bytes for each draw (in memory: the bench's judges train on these)."""
    from tqdm.auto import tqdm

    rng = np.random.default_rng(seed)
    return [render_item(shapes[i], dye, texture, rng).data
            for i, _, dye, texture in tqdm(draws, desc=desc, disable=not progress)]


def build_foreign_catalog(out_dir: Path, shapes: np.ndarray, labels: np.ndarray, n: int,
                          seed: int = 0, progress: bool = True) -> ForeignCatalog:
    """Write ``n`` photos, ``catalog.csv`` and ``truth.csv`` under ``out_dir``.

    Parameters
    ----------
    shapes, labels
        The Fashion-MNIST *test* split: (N, 28, 28) uint8 and (N,) labels 0..9.
    n
        Items in the catalog.
    seed
        Everything (draws, geometry, noise, JPEG quality) follows from it.
    """
    from tqdm.auto import tqdm

    images_dir = out_dir / "images"
    images_dir.mkdir(parents=True, exist_ok=True)
    draws = draw_items(shapes, labels, n, seed)
    rng = np.random.default_rng(seed + 1)
    items = []
    for k, (index, category, dye, texture) in enumerate(
            tqdm(draws, desc="foreign photos", unit="photo", disable=not progress)):
        photo = render_item(shapes[index], dye, texture, rng)
        name = f"photo-{k + 1:05d}.jpg"
        (images_dir / name).write_bytes(photo.data)
        items.append(ForeignItem(
            item_id=f"fx{k + 1:05d}", category=category, colour_name=dye,
            colour="#" + "".join(f"{round(c * 255):02x}" for c in FOREIGN_PALETTE[dye]),
            texture=texture, backdrop=photo.backdrop, width=photo.width, height=photo.height,
            quality=photo.quality, shape_index=index, image=name))
    catalog_csv, truth_csv = out_dir / "catalog.csv", out_dir / "truth.csv"
    with catalog_csv.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["item_id", "category", "image"])
        writer.writerows([i.item_id, i.category, i.image] for i in items)
    with truth_csv.open("w", newline="") as handle:
        fields = list(asdict(items[0])) if items else ["item_id"]
        dict_writer = csv.DictWriter(handle, fieldnames=fields)
        dict_writer.writeheader()
        dict_writer.writerows(asdict(i) for i in items)
    return ForeignCatalog(catalog_csv, truth_csv, images_dir, tuple(items))


def read_truth(path: Path) -> list[ForeignItem]:
    """``truth.csv`` back as items (the bench's scorer reads only this)."""
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    ints = ("width", "height", "quality", "shape_index")
    return [ForeignItem(**{k: int(v) if k in ints else v for k, v in row.items()})  # type: ignore[arg-type]
            for row in rows]
