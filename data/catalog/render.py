"""The built-in catalog's rendering recipe: a real shape, one body colour, one pattern.

Pure numpy and seeded, so every catalog image can be re-made from its row in
``catalog.csv`` (shape index, colour, pattern) and the item's pattern seed.
"""

from __future__ import annotations

import numpy as np

from pigen.data.catalog.palette import RGB, luma

#: Pattern names, in condition-vector order.
PATTERNS: tuple[str, ...] = ("solid", "striped", "checked", "dotted")

SIZE = 32  # output canvas, pixels per side
PAD = 2  # (32 - 28) / 2: Fashion-MNIST shapes sit centred with a black border
# Pattern repeat in pixels (coarser would hardly repeat on a 28 px body). A check's
# lines run both ways, so its period starts at 5 to keep it under 40% of the canvas.
PERIODS: dict[str, tuple[int, ...]] = {"striped": (4, 5, 6), "checked": (5, 6), "dotted": (4, 5, 6)}
STRIPE_ORIENTATIONS = ("horizontal", "vertical", "diagonal", "antidiagonal")
DARKEN = 0.4  # a light body's pattern tone: the body colour times this
LIGHTEN = 0.6  # a dark body's pattern tone: this far from the body colour toward white
LIGHT_BODY_LUMA = 0.4  # at or above: darken the pattern, below: lighten it


def render_product(
    shape: np.ndarray, colour: RGB, pattern: str, rng: np.random.Generator
) -> np.ndarray:
    """Colour and pattern one Fashion-MNIST shape.

    The recipe:

    1. pad the (28, 28) grayscale shape to (32, 32) with 2 px of zeros per side;
    2. the shape is the luminance and the mask: every output pixel is the shape's
       intensity times a colour, so the background stays black and the shape keeps
       its own shading;
    3. that colour is ``colour`` on the body; a pattern replaces it with a contrasting
       tone on a minority of pixels (a third or less of the canvas, never over 40%,
       so the body colour stays the dominant one): a darker shade
       (``colour * 0.4``) on light colours, a lighter tint
       (``colour + 0.6 * (1 - colour)``) on dark ones, so it shows on both;
    4. patterns, with geometry drawn from ``rng`` (period 4-6 px, random phase):
       ``solid`` — none; ``striped`` — 1 px lines (2 px at period 6), horizontal,
       vertical or diagonal; ``checked`` — a windowpane check, 1 px lines both ways
       every 5-6 px (a
       half-and-half checkerboard would leave no dominant colour); ``dotted`` — 2x2
       px dots on a staggered grid;
    5. round to the nearest integer.

    ``colour=(1, 1, 1)`` with ``"solid"`` reproduces the padded shape exactly in all
    three channels. Colour jitter is the caller's business: this gets the final colour.

    Parameters
    ----------
    shape
        (28, 28) uint8 grayscale, 0 = background.
    colour
        Body colour, RGB in [0, 1].
    pattern
        One of :data:`PATTERNS`.
    rng
        Source of the pattern geometry only (unused for ``"solid"``).

    Returns
    -------
    np.ndarray
        (32, 32, 3) uint8 RGB image.
    """
    if shape.shape != (28, 28):
        raise ValueError(f"shape must be (28, 28), got {shape.shape}")
    body = np.asarray(colour, dtype=np.float32)  # (3,)
    if body.shape != (3,) or not np.all((body >= 0) & (body <= 1)):
        raise ValueError(f"colour must be 3 values in [0, 1], got {colour!r}")
    luminance = pad_shape(shape).astype(np.float32)  # (32, 32), 0..255
    mask = pattern_mask(pattern, rng)  # (32, 32) bool
    tone = contrast_tone(body)  # (3,)
    tint = np.where(mask[..., None], tone, body)  # (32, 32, 3) in [0, 1]
    # Multiply in 0..255 units: with body == 1.0 the product is exact, hence bit-exact.
    return np.clip(np.rint(luminance[..., None] * tint), 0, 255).astype(np.uint8)


def pad_shape(shape: np.ndarray) -> np.ndarray:
    """(28, 28) -> (32, 32), zeros around, dtype kept: the canvas the recipe draws on."""
    return np.pad(shape, PAD)


def contrast_tone(body: np.ndarray) -> np.ndarray:
    """The pattern colour for a body colour (3,): darker on light bodies, lighter on dark."""
    if luma((float(body[0]), float(body[1]), float(body[2]))) >= LIGHT_BODY_LUMA:
        return (body * DARKEN).astype(np.float32)
    return (body + LIGHTEN * (1.0 - body)).astype(np.float32)


def pattern_mask(pattern: str, rng: np.random.Generator) -> np.ndarray:
    """Where the pattern tone goes: (32, 32) bool, True on pattern pixels.

    Draws only what the pattern needs from ``rng`` (nothing for ``"solid"``).
    """
    y, x = np.mgrid[0:SIZE, 0:SIZE]  # (32, 32) each
    if pattern == "solid":
        return np.zeros((SIZE, SIZE), dtype=bool)
    if pattern not in PERIODS:
        raise ValueError(f"unknown pattern {pattern!r}; expected one of {PATTERNS}")
    period = int(rng.choice(PERIODS[pattern]))
    if pattern == "striped":
        orientation = STRIPE_ORIENTATIONS[int(rng.integers(len(STRIPE_ORIENTATIONS)))]
        width = 2 if period == 6 else 1  # 17-38% of the canvas: the body stays the majority
        phase = int(rng.integers(period))
        across = {"horizontal": y, "vertical": x, "diagonal": x + y, "antidiagonal": x - y}
        return (across[orientation] + phase) % period < width
    if pattern == "checked":
        phase_y, phase_x = (int(p) for p in rng.integers(period, size=2))
        return ((y + phase_y) % period == 0) | ((x + phase_x) % period == 0)
    # dotted
    phase_y, phase_x = (int(p) for p in rng.integers(period, size=2))
    row = (y + phase_y) // period
    shift = (row % 2) * (period // 2)  # stagger alternate rows: polka, not a grid
    return ((y + phase_y) % period < 2) & ((x + phase_x + shift) % period < 2)
