"""A store's own product photo -> a square, training-sized product image and its mask.

Store photos come in any size, format and aspect ratio, mostly on a light studio
backdrop, some on a dark one. Each is brought to the built-in catalog's framing:

1. decode (PNG, JPEG, WebP, ...; EXIF rotation applied; transparency composited on
   white; CMYK, greyscale, palette and 16-bit images converted to RGB), refusing
   decompression bombs by the header before any pixel is decoded;
2. estimate the backdrop from the image border: the most common border colour, so a
   product touching one edge does not shift it;
3. segment the product: each pixel's Delta-E (CIE76, Lab) from the backdrop, above a
   threshold set from the image itself (Otsu on those distances, held between a floor
   above JPEG noise and a ceiling that keeps light parts of a product on a light
   backdrop, and above the border's own noise); keep the large connected components;
   fill holes;
4. crop to the product with a margin, pad to square with the backdrop colour, and
   resize to the training resolution (64 px by default).

An image that cannot give a product (undecodable, too small, blank, too large) raises
:class:`UnusableImage` with a one-word ``reason`` and a sentence a user can act on.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from scipy import ndimage
from tqdm.auto import tqdm

from pigen.data.catalog.palette import srgb_to_lab
from pigen.data.ingest.catalog import MAX_IMAGE_PIXELS

DEFAULT_RESOLUTION = 64
BORDER = 0.03  # share of each side read as the border (at least 1 px)
BORDER_BINS = 16  # levels per channel when finding the border's most common colour
# Delta-E (CIE76) from the backdrop: below the floor is backdrop whatever Otsu says (JPEG
# noise and sweep gradients reach ~5); above the ceiling is product whatever Otsu says
# (a white garment is ~13 from a #d9d9d9 sweep; Otsu alone would cut it off a navy print).
THRESHOLD_FLOOR = 6.0
THRESHOLD_CEILING = 12.0
# ... and above the border's own noise: its median distance plus this many robust
# standard deviations (1.4826 MAD). Robust, because a product may touch the border.
NOISE_SIGMAS = 4.0
KEEP_COMPONENT = 0.10  # keep every component at least this share of the largest (pairs of shoes)
MIN_FOREGROUND = 0.002  # below this share of the pixels (and 16 px) the image shows no product
# Margin around the product after cropping, as a share of its longer side on each side:
# the built-in catalog draws a 28 px shape on a 32 px canvas, 1/14 of 28 per side.
MARGIN = 1 / 14
LIGHT_LUMA = 0.5  # a backdrop at or above this brightness is a light one


class UnusableImage(ValueError):
    """An image that cannot give a product; ``reason`` is one word, ``str()`` a sentence.

    Reasons: ``"missing"``, ``"outside"``, ``"undecodable"``, ``"too-large"``,
    ``"too-small"``, ``"blank"``.
    """

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)

    def __reduce__(self) -> tuple[type[UnusableImage], tuple[str, str]]:
        return type(self), (self.reason, str(self))


@dataclass(frozen=True)
class PreparedImage:
    """One product, framed like the built-in catalog."""

    rgb: np.ndarray  # (R, R, 3) float32 in [0, 1]: cropped, padded square with the backdrop
    mask: np.ndarray  # (R, R) bool, True on the product
    background: tuple[float, float, float]  # estimated backdrop RGB in [0, 1]
    light_background: bool


def prepare_image(source: Path | bytes, resolution: int = DEFAULT_RESOLUTION, *,
                  min_side: int = 16, root: Path | None = None) -> PreparedImage:
    """Decode, segment, crop, square and resize one product image.

    Parameters
    ----------
    source
        A file path or the file's bytes.
    resolution
        Side of the output square in pixels.
    min_side
        Images whose shorter side is below this are refused as ``"too-small"``.
    root
        When given, a path outside this folder is refused (``"outside"``): the
        ingest rule that image paths stay inside ``--images``.

    Raises
    ------
    UnusableImage
        With its ``reason``; never another exception for a bad image.
    """
    if resolution < 8:
        raise ValueError(f"resolution must be at least 8 px, got {resolution}")
    name = _name(source)
    pixels = _decode(source, name, root)  # (H, W, 3) float32 in [0, 1]
    height, width = pixels.shape[:2]
    if min(height, width) < min_side:
        raise UnusableImage("too-small", f"{name} is {width}x{height} pixels; product images "
                                         f"need at least {min_side} px on each side")
    background = estimate_background(pixels)
    mask = segment_foreground(pixels, background)
    if mask.sum() < max(16, MIN_FOREGROUND * mask.size):
        raise UnusableImage("blank", f"{name} shows no product: nothing stands out from its "
                                     "backdrop (a blank or nearly uniform image)")
    rgb, square_mask = _frame(pixels, mask, background, resolution)
    return PreparedImage(rgb=rgb, mask=square_mask,
                         background=(float(background[0]), float(background[1]),
                                     float(background[2])),
                         light_background=bool(_luma(background) >= LIGHT_LUMA))


def prepare_images(paths: Sequence[Path], resolution: int = DEFAULT_RESOLUTION, *,
                   progress: bool = True, root: Path | None = None,
                   ) -> tuple[np.ndarray, np.ndarray, list[tuple[int, UnusableImage]]]:
    """Prepare many images; unusable ones are skipped and returned with their error.

    Returns
    -------
    images, masks, skipped
        (N_ok, R, R, 3) float32 and (N_ok, R, R) bool for the usable images, in the
        order of ``paths``; ``skipped`` is (index into ``paths``, error) per unusable
        one. Row ``i`` of ``images`` is ``paths[kept[i]]`` with ``kept`` the indices
        not in ``skipped`` (:func:`kept_indices`).
    """
    images: list[np.ndarray] = []
    masks: list[np.ndarray] = []
    skipped: list[tuple[int, UnusableImage]] = []
    for index, path in enumerate(tqdm(paths, desc="preparing images", unit="image",
                                      disable=not progress)):
        try:
            prepared = prepare_image(Path(path), resolution, root=root)
        except UnusableImage as error:
            skipped.append((index, error))
            continue
        images.append(prepared.rgb)
        masks.append(prepared.mask)
    if not images:
        return (np.zeros((0, resolution, resolution, 3), np.float32),
                np.zeros((0, resolution, resolution), bool), skipped)
    return np.stack(images), np.stack(masks), skipped


def kept_indices(n_paths: int, skipped: Sequence[tuple[int, UnusableImage]]) -> list[int]:
    """Which of ``n_paths`` inputs :func:`prepare_images` returned, in its row order."""
    dropped = {index for index, _ in skipped}
    return [i for i in range(n_paths) if i not in dropped]


def estimate_background(pixels: np.ndarray) -> np.ndarray:
    """(H, W, 3) float in [0, 1] -> (3,) the backdrop: the most common border colour.

    The border's median would shift when the product touches an edge; the mode of
    the border's colours (16 levels a channel), refined to the median of the border
    pixels in that bin, does not while the backdrop is the border's plurality.
    """
    border = _border(pixels)  # (B, 3)
    bins = np.minimum((border * BORDER_BINS).astype(np.int64), BORDER_BINS - 1)  # (B, 3)
    codes = (bins[:, 0] * BORDER_BINS + bins[:, 1]) * BORDER_BINS + bins[:, 2]
    commonest = np.bincount(codes).argmax()
    # Neighbouring bins too: a backdrop straddling a bin edge is still one backdrop.
    near = np.all(np.abs(bins - bins[codes == commonest][0]) <= 1, axis=1)
    return np.median(border[near], axis=0).astype(np.float32)


def segment_foreground(pixels: np.ndarray, background: np.ndarray) -> np.ndarray:
    """(H, W, 3) -> (H, W) bool: the product's pixels (largest components, holes filled)."""
    height, width = pixels.shape[:2]
    lab = srgb_to_lab(pixels.reshape(-1, 3))  # (H*W, 3)
    distance = np.linalg.norm(lab - srgb_to_lab(background[None, :]), axis=1)
    distance = distance.reshape(height, width)  # (H, W) Delta-E 76 from the backdrop
    border = _border(distance[..., None])[:, 0]  # (B,)
    centre = float(np.median(border))
    noise = centre + NOISE_SIGMAS * 1.4826 * float(np.median(np.abs(border - centre)))
    floor = max(THRESHOLD_FLOOR, noise)
    threshold = float(np.clip(otsu_threshold(distance), floor, max(floor, THRESHOLD_CEILING)))
    mask = distance > threshold
    # Specks of noise or dust: a 3x3 opening only where the image is large enough.
    if min(height, width) >= 48:
        mask = ndimage.binary_opening(mask, structure=np.ones((3, 3), bool))
    labels, count = ndimage.label(mask)
    if count == 0:
        return mask
    sizes = np.bincount(labels.ravel())[1:]  # (count,)
    keep = np.flatnonzero(sizes >= KEEP_COMPONENT * sizes.max()) + 1
    return np.asarray(ndimage.binary_fill_holes(np.isin(labels, keep)), dtype=bool)


def otsu_threshold(values: np.ndarray, bins: int = 256) -> float:
    """The value splitting ``values`` into two classes of least within-class variance."""
    flat = values.ravel()
    low, high = float(flat.min()), float(flat.max())
    if high - low < 1e-9:
        return high
    counts, edges = np.histogram(flat, bins=bins, range=(low, high))
    centres = (edges[:-1] + edges[1:]) / 2
    weight0 = np.cumsum(counts)  # (bins,) pixels at or below each bin
    weight1 = weight0[-1] - weight0
    sum0 = np.cumsum(counts * centres)
    mean0 = sum0 / np.maximum(weight0, 1)
    mean1 = (sum0[-1] - sum0) / np.maximum(weight1, 1)
    between = weight0 * weight1 * (mean0 - mean1) ** 2  # (bins,)
    return float(edges[int(between.argmax()) + 1])


def _decode(source: Path | bytes, name: str, root: Path | None) -> np.ndarray:
    """The image as (H, W, 3) float32 RGB in [0, 1], or :class:`UnusableImage`."""
    if isinstance(source, Path):
        if root is not None and not source.resolve().is_relative_to(root.resolve()):
            raise UnusableImage("outside", f"{name} lies outside the images folder {root}")
        if not source.is_file():
            raise UnusableImage("missing", f"{name} does not exist (moved or deleted "
                                           "since the catalog was ingested?)")
    try:
        stream = io.BytesIO(source) if isinstance(source, bytes) else source
        with warnings.catch_warnings():
            # PIL warns (then errors) on bombs above its own, larger limit; ours is below.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(stream) as image:
                if image.width * image.height > MAX_IMAGE_PIXELS:
                    raise UnusableImage("too-large", f"{name} is {image.width}x{image.height} "
                                        f"pixels; the limit is {MAX_IMAGE_PIXELS:,} (a "
                                        "decompression bomb?): scale it down")
                image.load()
                return _to_rgb(ImageOps.exif_transpose(image))
    except UnusableImage:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise UnusableImage("too-large", f"{name} is too large to decode safely: "
                                         f"{error}") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as error:
        raise UnusableImage("undecodable", f"{name} is not a readable image "
                                           f"({type(error).__name__}): re-export it as "
                                           "PNG, JPEG or WebP") from None


def _to_rgb(image: Image.Image) -> np.ndarray:
    """Any PIL mode -> (H, W, 3) float32 RGB in [0, 1]; transparency over white."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        values = np.asarray(image, dtype=np.float32)
        scale = 65535.0 if values.max() > 255 else 255.0
        grey = np.clip(values / scale, 0.0, 1.0)
        return np.repeat(grey[..., None], 3, axis=2)
    if image.mode == "F":
        grey = np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0)
        return np.repeat(grey[..., None], 3, axis=2)
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = np.asarray(image.convert("RGBA"), dtype=np.float32) / 255.0  # (H, W, 4)
        alpha = rgba[..., 3:]
        return rgba[..., :3] * alpha + (1.0 - alpha)  # composited on white
    return np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0


def _frame(pixels: np.ndarray, mask: np.ndarray, background: np.ndarray, resolution: int
           ) -> tuple[np.ndarray, np.ndarray]:
    """Crop to the mask's box plus a margin, pad square with the backdrop, resize."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    crop = pixels[top:bottom, left:right]
    crop_mask = mask[top:bottom, left:right]
    side = int(np.ceil(max(crop.shape[:2]) * (1 + 2 * MARGIN)))
    canvas = np.empty((side, side, 3), np.float32)
    canvas[:] = background
    canvas_mask = np.zeros((side, side), bool)
    y0, x0 = (side - crop.shape[0]) // 2, (side - crop.shape[1]) // 2
    canvas[y0:y0 + crop.shape[0], x0:x0 + crop.shape[1]] = crop
    canvas_mask[y0:y0 + crop.shape[0], x0:x0 + crop.shape[1]] = crop_mask
    # LANCZOS on the 8-bit image (antialiased going down); the mask by area coverage.
    size = (resolution, resolution)
    rgb = Image.fromarray(np.clip(np.rint(canvas * 255), 0, 255).astype(np.uint8))
    rgb = rgb.resize(size, Image.Resampling.LANCZOS)
    coverage = Image.fromarray(canvas_mask.astype(np.float32)).resize(
        size, Image.Resampling.BOX if side >= resolution else Image.Resampling.BILINEAR)
    return (np.asarray(rgb, dtype=np.float32) / 255.0,
            np.asarray(coverage, dtype=np.float32) >= 0.5)


def _border(pixels: np.ndarray) -> np.ndarray:
    """(H, W, C) -> (B, C): the pixels of the outer ``BORDER`` ring."""
    height, width = pixels.shape[:2]
    ring_y, ring_x = max(1, round(height * BORDER)), max(1, round(width * BORDER))
    edge = np.zeros((height, width), bool)
    edge[:ring_y], edge[-ring_y:], edge[:, :ring_x], edge[:, -ring_x:] = True, True, True, True
    return pixels[edge]


def _luma(rgb: np.ndarray) -> float:
    return float(0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2])


def _name(source: Path | bytes) -> str:
    return f"image {source.name!r}" if isinstance(source, Path) else "the image"


__all__ = ["DEFAULT_RESOLUTION", "PreparedImage", "UnusableImage", "kept_indices",
           "prepare_image", "prepare_images"]
