"""Classical, label-free texture statistics of a product's foreground.

The learned encoder (:mod:`~pigen.data.catalog.texture_encoder`) sees a catalog's
images through small crops; on a catalog it has never seen it separates periodic
prints but splits plain products by dye and shape detail, and it cannot see a
ramp that spans the product. These statistics see the whole interior at once,
with nothing learned. Texture lives in the *luminance* of the foreground, so:

1. luminance (BT.601); its mean over the product is removed, so the dye's
   brightness is not a feature;
2. pixels where the backdrop shows through the product (a handle hole, a
   see-through detail: backdrop-coloured regions wider than a print line) are
   dropped, the rest eroded by ``margin`` px (the silhouette edge is the strongest
   contrast in a photo and says the category, not the texture) and windowed
   smoothly, so the mask's own edge adds little spectral leakage;
3. the power spectrum of the windowed luminance: the share of power in log-spaced
   *radial* bands (a ramp, a print, noise), the total power (how much texture),
   the *periodic share* (power in peaks above the local spectral background: a
   print's harmonics, not a shape's irregular detail) and how those peaks point,
   with *orientations* folded so that flips and quarter turns give the same
   numbers (as the encoder's augmentations make its features invariant to them);
4. a robust quadratic surface through the luminance: how large a smooth ramp
   (an ombre) is and how much of the variation it explains; and a robust *hinge*,
   flat over part of the product and then rising in a straight line to its edge,
   in the best of 16 directions: an ombre is that shape, while a product's own
   pale or see-through areas follow its outline and fit no straight ramp.

:func:`grouping_features` is what extraction clusters: the encoder's features and
three blocks of these statistics (scale, orientation, ramp), each block
standardised and weighed as a whole (:func:`combine_blocks`), so no block wins by
its dimension or units.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field, model_validator

from pigen.data.typed_config import TypedConfig

LUMA = np.array([0.299, 0.587, 0.114])  # BT.601, as prepare.py's luma
POWER_FLOOR = 1e-7  # per-pixel power added before the log: JPEG noise is ~1e-5
PERIODIC_FLOOR = 1e-3  # added to the periodic share before the log
SHARE_FLOOR = 1e-4  # added to a share before the log: a band with ~nothing in it
SMOOTH_FLOOR = 1e-3  # luma units added before the log: below any visible ramp
ROBUST_ITERATIONS = 8  # reweighted fits of the smooth surface
SMOOTH_COLUMNS = ("smooth_log_std", "smooth_share", "hinge_share")  # the last columns
HINGE_DIRECTIONS = 16  # ramp directions tried, around the full circle (a ramp has a start)
HINGE_STARTS = (0.2, 0.35, 0.5, 0.65, 0.8)  # where along the product a ramp may begin


class TextureStatsConfig(TypedConfig):
    """How the spectral texture statistics are measured; the defaults suit 64 px images."""

    # Pixels the mask is eroded by: the silhouette edge (and the feathered, shaded
    # rim of a product) must not count as texture.
    margin: int = Field(default=2, ge=0, le=16)
    # Radial bin edges in cycles per pixel, log-spaced from a ramp across the
    # product (~1/50) to the finest JPEG-surviving detail (0.5: Nyquist).
    radial_edges: tuple[float, ...] = (0.02, 0.05, 0.1, 0.18, 0.3, 0.5)
    # Orientation bins over the folded half-quadrant [0, 45] degrees.
    orientation_bins: int = Field(default=3, ge=1, le=12)
    # The band (cycles per pixel) whose power spread over orientations is measured:
    # where prints live, above ramps and below JPEG noise.
    orientation_band: tuple[float, float] = (0.07, 0.35)
    # A frequency cell is a peak where its power exceeds ``peak_factor`` times the
    # median of the ``peak_window`` x ``peak_window`` cells around it: a print's
    # harmonics do, the broadband spectrum of irregular detail does not.
    peak_factor: float = Field(default=4.0, gt=1)
    peak_window: int = Field(default=9, ge=3, le=31)
    # A pixel nearer the backdrop colour than this share of the product's own
    # distance from it is backdrop seen through the product (a bag's handle hole, a
    # translucent detail, a pale thin part), not print: at 0.5, a pixel that is
    # more backdrop than product. Measured on the foreign bench (texture ARI,
    # seed 0, 300 / 2,000 items): 0.25 -> 0.767 / 0.771, 0.5 -> 0.781 / 0.796,
    # 0.6 -> 0.765 / 0.800, 0.7 -> 0.751 on 300.
    backdrop_share: float = Field(default=0.5, ge=0, lt=1)
    # Backdrop-like regions narrower than about 2 * this + 1 px are print lines, kept.
    hole_radius: int = Field(default=1, ge=0, le=8)

    @model_validator(mode="after")
    def _check_rules(self) -> TextureStatsConfig:
        edges = self.radial_edges
        if len(edges) < 2 or any(b <= a for a, b in zip(edges, edges[1:], strict=False)) \
                or edges[0] <= 0 or edges[-1] > 0.5 + 1e-9:
            raise ValueError(f"radial_edges must rise within (0, 0.5], got {edges}")
        low, high = self.orientation_band
        if not 0 < low < high <= 0.5 + 1e-9:
            raise ValueError(f"orientation_band must satisfy 0 < low < high <= 0.5, "
                             f"got {self.orientation_band}")
        return self

    @property
    def dim(self) -> int:
        return len(self.radial_edges) + 1 + self.orientation_bins + len(SMOOTH_COLUMNS)


def luminance(images: np.ndarray) -> np.ndarray:
    """(N, R, R) BT.601 luma of (N, R, R, 3) images in [0, 1] (uint8 is scaled)."""
    pixels = np.asarray(images)
    scale = 255.0 if pixels.dtype == np.uint8 else 1.0
    return (pixels.astype(np.float64) / scale) @ LUMA


def interior(masks: np.ndarray, margin: int) -> np.ndarray:
    """(N, R, R) bool: each mask eroded by ``margin`` px; a mask erosion would empty
    (a thin sandal strap) is eroded less, down to itself."""
    from scipy.ndimage import binary_erosion

    masks = np.asarray(masks, dtype=bool)
    out = masks.copy()
    for n, mask in enumerate(masks):
        for step in range(margin, 0, -1):
            eroded = binary_erosion(mask, iterations=step, border_value=0)
            if eroded.sum() >= 16:  # a few pixels at least, or the spectrum is noise
                out[n] = eroded
                break
    return out


def print_pixels(images: np.ndarray, masks: np.ndarray, share: float,
                 hole_radius: int = 1) -> np.ndarray:
    """(N, R, R) bool: mask pixels that are not the backdrop showing through.

    The backdrop is the median colour outside the (dilated) mask. A pixel is
    backdrop-like when its RGB distance to it is below ``share`` times the
    product's median distance; only backdrop-like *regions* wider than
    ``2 * hole_radius + 1`` px are dropped (a morphological opening), so a thin light
    print line on a dark dye stays while a handle hole or a see-through patch goes.
    A mask that would lose everything is kept whole.
    """
    from scipy.ndimage import binary_dilation, binary_opening

    pixels = np.asarray(images, dtype=np.float64)
    masks = np.asarray(masks, dtype=bool)
    out = masks.copy()
    for n, mask in enumerate(masks):
        outside = ~binary_dilation(mask, iterations=2)
        if not outside.any():
            continue
        backdrop = np.median(pixels[n][outside], axis=0)  # (3,)
        distance = np.linalg.norm(pixels[n] - backdrop, axis=-1)  # (R, R)
        near = mask & (distance < share * np.median(distance[mask]))
        holes = (binary_opening(near, np.ones((3, 3), bool), iterations=hole_radius)
                 if hole_radius else near)
        kept = mask & ~holes
        if kept.any():
            out[n] = kept
    return out


def spectrum_features(images: np.ndarray, masks: np.ndarray,
                      config: TextureStatsConfig | None = None) -> np.ndarray:
    """(N, F) texture statistics (F = ``config.dim``); see the module doc.

    Columns: the log share of the spectrum's power in each radial band (coarse
    first); the log total power per interior pixel (how much texture, in any
    form); the log *periodic share*, the part of the orientation band's power that
    stands in peaks above the local spectral background (high for a print, low for
    irregular detail); how that peak power spreads over the folded orientation
    bins; then :data:`SMOOTH_COLUMNS`, how much of the luminance a robust smooth
    (quadratic) surface explains, and a robust straight ramp from part-way to the
    edge (:func:`_hinge_share`): a ramp, not a print or the shape's own detail.

    A long straight edge (a clean ramp's end, a single seam) puts its power on a
    line through the spectrum's centre, which the local median counts as peaks too;
    on photos the detail around it usually outweighs that.
    """
    from scipy.ndimage import gaussian_filter, median_filter

    config = config or TextureStatsConfig()
    luma = luminance(images)  # (N, R, R)
    if luma.ndim != 3 or luma.shape[1] != luma.shape[2]:
        raise ValueError(f"images must be (N, R, R, 3), got {np.shape(images)}")
    masks = np.asarray(masks, dtype=bool)
    if masks.shape != luma.shape:
        raise ValueError(f"masks must be {luma.shape}, got {masks.shape}")
    if not masks.any(axis=(1, 2)).all():
        raise ValueError("every mask must hold at least one product pixel")
    scale = 255.0 if np.asarray(images).dtype == np.uint8 else 1.0
    product = print_pixels(np.asarray(images) / scale, masks, config.backdrop_share,
                           config.hole_radius)
    inner = interior(product, config.margin)
    side = luma.shape[1]
    radius, fold = _polar_grid(side)  # (R, R) cycles per pixel, folded degrees
    edges = np.asarray(config.radial_edges)
    radial = [(radius >= a) & (radius < b) for a, b in zip(edges, edges[1:], strict=False)]
    low, high = config.orientation_band
    band = (radius >= low) & (radius < high)
    angle_edges = np.linspace(0, 45, config.orientation_bins + 1)
    angle_edges[-1] += 1e-9
    oriented = [band & (fold >= a) & (fold < b)
                for a, b in zip(angle_edges, angle_edges[1:], strict=False)]
    design = _quadratic_design(side)  # (R * R, 6)
    out = np.empty((len(luma), config.dim))
    for n in range(len(luma)):
        window = gaussian_filter(inner[n].astype(np.float64), 1.0) * inner[n]  # (R, R)
        weight = window.sum()
        centred = (luma[n] - (luma[n] * window).sum() / weight) * window
        power = np.abs(np.fft.fft2(centred)) ** 2 / (weight * side * side)  # per pixel
        total = power.sum() - power[0, 0]
        ring = np.array([power[r].sum() for r in radial]) / (total + POWER_FLOOR)
        # a print's harmonics stand out of their neighbourhood; a shape's own detail
        # and noise spread smoothly over frequencies
        background = np.fft.ifftshift(median_filter(np.fft.fftshift(power),
                                                    size=config.peak_window, mode="wrap"))
        excess = np.clip(power - config.peak_factor * background, 0, None)
        periodic = excess[band].sum() / (power[band].sum() + POWER_FLOOR)
        spread = np.array([excess[o].sum() for o in oriented])
        spread = (spread / spread.sum() if spread.sum() > 0
                  else np.full(len(oriented), 1 / len(oriented)))
        smooth = _smooth_fit(luma[n].ravel(), inner[n].ravel(), design)
        hinge = _hinge_share(luma[n][inner[n]], *np.nonzero(inner[n]))
        out[n] = np.concatenate([np.log(ring + SHARE_FLOOR), [np.log(total + POWER_FLOOR)],
                                 [np.log(periodic + PERIODIC_FLOOR)], spread, smooth,
                                 [hinge]])
    return out


def combine_blocks(blocks: list[np.ndarray], weights: list[float] | None = None
                   ) -> np.ndarray:
    """(N, sum F_b) of blocks, each z-scored per column and scaled to total variance
    ``weight`` (default 1 each), so no block wins by its dimension or units.

    Constant columns stay 0 rather than dividing by zero.
    """
    if not blocks:
        raise ValueError("need at least one block of features")
    weights = [1.0] * len(blocks) if weights is None else list(weights)
    if len(weights) != len(blocks) or any(w < 0 for w in weights):
        raise ValueError(f"need one non-negative weight per block, got {weights}")
    count = len(blocks[0])
    parts = []
    for block, weight in zip(blocks, weights, strict=True):
        values = np.asarray(block, dtype=np.float64)
        if values.ndim != 2 or len(values) != count:
            raise ValueError(f"blocks must be (N, F) with N = {count}, got {values.shape}")
        spread = values.std(axis=0)
        z = (values - values.mean(axis=0)) / np.where(spread > 1e-12, spread, 1.0)
        parts.append(z * np.sqrt(weight / values.shape[1]))
    return np.concatenate(parts, axis=1)


def stat_blocks(values: np.ndarray, config: TextureStatsConfig | None = None
                ) -> list[np.ndarray]:
    """Split :func:`spectrum_features` columns into the three things they measure:
    how much texture and at what scale (radial shares, total power, periodic share),
    where its peaks point (orientation shares), and how much of it is a ramp."""
    config = config or TextureStatsConfig()
    values = np.asarray(values)
    if values.ndim != 2 or values.shape[1] != config.dim:
        raise ValueError(f"need (N, {config.dim}) statistics, got {values.shape}")
    scale = len(config.radial_edges) + 1  # radial shares, total power, periodic share
    orientation = scale + config.orientation_bins
    return [values[:, :scale], values[:, scale:orientation], values[:, orientation:]]


def grouping_features(learned: np.ndarray, stats: np.ndarray,
                      config: TextureStatsConfig | None = None,
                      learned_weight: float = 1.0) -> np.ndarray:
    """(N, F + S) what texture groups are clustered on: the encoder's features and the
    three blocks of statistics, each standardised, weighed ``learned_weight`` : 1 : 1 : 1."""
    return combine_blocks([learned, *stat_blocks(stats, config)], [learned_weight, 1, 1, 1])


def _quadratic_design(side: int) -> np.ndarray:
    """(R * R, 6) the terms 1, x, y, x^2, xy, y^2 on [-1, 1] coordinates."""
    y, x = np.mgrid[0:side, 0:side] / max(side - 1, 1) * 2 - 1
    x, y = x.ravel(), y.ravel()
    return np.stack([np.ones_like(x), x, y, x * x, x * y, y * y], axis=1)


def _smooth_fit(values: np.ndarray, inside: np.ndarray, design: np.ndarray) -> np.ndarray:
    """(2,) log std of a robust quadratic surface through ``values[inside]``, and the
    share of their variance it explains.

    Robust (Tukey's biweight, refitted :data:`ROBUST_ITERATIONS` times): a ramp is
    the bulk of the pixels and stays, while a see-through patch or a print line is
    a minority and is down-weighted, so a solid's surface stays flat.
    """
    target = values[inside]
    terms = design[inside]
    weights = np.ones(len(target))
    for _ in range(ROBUST_ITERATIONS):
        coefficients, *_ = np.linalg.lstsq(terms * weights[:, None], target * weights,
                                           rcond=None)
        residual = target - terms @ coefficients
        scale = 1.4826 * np.median(np.abs(residual)) + SMOOTH_FLOOR  # robust sd
        weights = np.clip(1 - (residual / (4.685 * scale)) ** 2, 0, None)
    fitted = terms @ coefficients
    total = target.var()
    explained = fitted.var() / total if total > 1e-12 else 0.0
    return np.array([np.log(fitted.std() + SMOOTH_FLOOR), min(explained, 1.0)])


def _hinge_share(values: np.ndarray, rows: np.ndarray, columns: np.ndarray) -> float:
    """The share of the product's luminance variance a robust *hinge* explains: flat
    up to a start, then a straight ramp to the product's far edge.

    An ombre is that shape (it spans part of the product, in one direction); the
    quadratic surface bends to fit a product's pale or shaded areas as well. The
    best of :data:`HINGE_DIRECTIONS` x :data:`HINGE_STARTS` hinges, refitted with
    Tukey's biweight (:data:`ROBUST_ITERATIONS` times) so print lines and
    see-through details weigh little; the weighted R^2 of the last fit.
    """
    if len(values) < 3:
        return 0.0
    angles = np.arange(HINGE_DIRECTIONS) * 2 * np.pi / HINGE_DIRECTIONS
    along = np.cos(angles)[:, None] * columns[None] + np.sin(angles)[:, None] * rows[None]
    span = np.maximum(np.ptp(along, axis=1, keepdims=True), 1e-9)
    along = (along - along.min(axis=1, keepdims=True)) / span  # (D, P) in [0, 1]
    ramps = np.concatenate([np.clip(along - start, 0, None) / (1 - start)
                            for start in HINGE_STARTS])  # (D * S, P)
    weights = np.ones(len(values))
    share = 0.0
    for _ in range(ROBUST_ITERATIONS):
        w = weights / max(weights.sum(), 1e-12)
        centred = values - w @ values
        regressors = ramps - (ramps @ w)[:, None]
        spread = (regressors ** 2) @ w  # (M,)
        slopes = (regressors * w) @ centred / np.maximum(spread, 1e-12)
        explained = slopes ** 2 * spread / max(float((centred ** 2) @ w), 1e-12)
        best = int(explained.argmax())
        share = float(min(explained[best], 1.0))
        residual = centred - slopes[best] * regressors[best]
        scale = 1.4826 * np.median(np.abs(residual)) + SMOOTH_FLOOR
        weights = np.clip(1 - (residual / (4.685 * scale)) ** 2, 0, None)
    return share


def _polar_grid(side: int) -> tuple[np.ndarray, np.ndarray]:
    """(R, R) radius in cycles per pixel and orientation folded into [0, 45] degrees,
    in ``np.fft.fft2``'s layout. Folding: mod 90 (quarter turns) then min(a, 90 - a)
    (flips)."""
    freq = np.fft.fftfreq(side)
    fy, fx = np.meshgrid(freq, freq, indexing="ij")
    radius = np.hypot(fx, fy)
    angle = np.degrees(np.arctan2(fy, fx)) % 90.0
    return radius, np.minimum(angle, 90.0 - angle)


__all__ = ["SMOOTH_COLUMNS", "TextureStatsConfig", "combine_blocks", "grouping_features",
           "interior", "luminance", "print_pixels", "spectrum_features", "stat_blocks"]
