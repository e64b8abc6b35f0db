"""The built-in catalog's rendering recipe: a real shape, one body colour, one pattern.

Pure numpy and seeded, so every catalog image can be re-made from its row in
``catalog.csv`` (shape index, colour, pattern) and the item's pattern seed.
"""

from __future__ import annotations

import numpy as np

from pigen.data.catalog.palette import RGB, luma

#: The studio backdrop: a light neutral grey (#d9d9d9), as in product photography.
#: Light enough to read as a studio sweep, dark enough that a white product still
#: stands out (CIE76 Delta-E ~13 against pure white, the palette's nearest colour;
#: black and navy stand out by 60+).
DEFAULT_BACKGROUND: RGB = (0.85, 0.85, 0.85)

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
    shape: np.ndarray, colour: RGB, pattern: str, rng: np.random.Generator,
    background: RGB = DEFAULT_BACKGROUND,
) -> np.ndarray:
    """Colour and pattern one Fashion-MNIST shape, on a studio background.

    The recipe:

    1. pad the (28, 28) grayscale shape to (32, 32) with 2 px of zeros per side;
    2. the shape's intensity is the product's *opacity* over the background:
       ``pixel = (1 - a) * background + a * tint`` with ``a = intensity / 255``, so the
       background shows where the shape is empty and the shape's own shading and
       seams show as the background blending through;
    3. the tint is ``colour`` on the body; a pattern replaces it with a contrasting
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

    So "white, solid" is a white garment whose opacity is the Fashion-MNIST shape:
    opaque parts read pure white, thin or dark parts of the shape let the grey
    backdrop through. With ``background=(0, 0, 0)`` this is the original recipe
    (the shape's intensity times the colour). Colour jitter is the caller's business:
    this gets the final colour.

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
    background
        Backdrop RGB in [0, 1]; :data:`DEFAULT_BACKGROUND` unless a store sets another.

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
    backdrop = np.asarray(background, dtype=np.float32)
    if backdrop.shape != (3,) or not np.all((backdrop >= 0) & (backdrop <= 1)):
        raise ValueError(f"background must be 3 values in [0, 1], got {background!r}")
    opacity = pad_shape(shape).astype(np.float32)[..., None] / 255.0  # (32, 32, 1)
    mask = pattern_mask(pattern, rng)  # (32, 32) bool
    tone = contrast_tone(body)  # (3,)
    tint = np.where(mask[..., None], tone, body)  # (32, 32, 3) in [0, 1]
    pixels = (1.0 - opacity) * backdrop + opacity * tint  # (32, 32, 3) in [0, 1]
    return np.clip(np.rint(pixels * 255.0), 0, 255).astype(np.uint8)


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
