"""The named colours of the built-in catalog, hex <-> RGB, and perceptual distance (Lab).

Colours are RGB in [0, 1], the same units as the condition vector's colour part.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import numpy as np

RGB = tuple[float, float, float]

#: Name -> RGB in [0, 1]. "black" is a dark charcoal, not (0, 0, 0): the shape's
#: shading must still show on a black garment (and it did on the first, black,
#: backdrop). Every colour stands out from the light studio backdrop
#: (``render.DEFAULT_BACKGROUND``): white least, at Delta-E ~13.
PALETTE: Mapping[str, RGB] = MappingProxyType(
    {
        "red": (0.85, 0.12, 0.12),
        "orange": (0.95, 0.55, 0.10),
        "yellow": (0.95, 0.85, 0.15),
        "green": (0.15, 0.60, 0.20),
        "teal": (0.05, 0.55, 0.55),
        "blue": (0.15, 0.40, 0.90),
        "navy": (0.08, 0.12, 0.45),
        "purple": (0.50, 0.20, 0.65),
        "pink": (0.95, 0.50, 0.70),
        "brown": (0.50, 0.30, 0.12),
        "grey": (0.55, 0.55, 0.55),
        "black": (0.20, 0.20, 0.20),
        "white": (1.00, 1.00, 1.00),
    }
)
COLOUR_NAMES: tuple[str, ...] = tuple(PALETTE)
#: (K, 3) float64, rows in :data:`COLOUR_NAMES` order: the palette as one array for
#: vectorised code (training colour draws, nearest-name lookups). Read-only.
PALETTE_RGB: np.ndarray = np.array([PALETTE[name] for name in COLOUR_NAMES], dtype=np.float64)
PALETTE_RGB.setflags(write=False)


def to_hex(rgb: RGB) -> str:
    """``(1.0, 0.5, 0.0)`` -> ``"#ff8000"`` (each channel rounded to 8 bits, clipped)."""
    channels = (min(255, max(0, round(c * 255))) for c in rgb)
    return "#" + "".join(f"{c:02x}" for c in channels)


def from_hex(code: str) -> RGB:
    """``"#ff8000"`` -> ``(1.0, 0.50196..., 0.0)``; raises ``ValueError`` on anything else."""
    digits = code.removeprefix("#")
    if len(digits) != 6:
        raise ValueError(f"colour {code!r} is not #rrggbb")
    try:
        r, g, b = (int(digits[i : i + 2], 16) / 255 for i in (0, 2, 4))
    except ValueError as exc:
        raise ValueError(f"colour {code!r} is not #rrggbb") from exc
    return (r, g, b)


def luma(rgb: RGB) -> float:
    """Perceived brightness in [0, 1] (ITU-R BT.601 weights), to pick a contrasting tone."""
    return 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]


def nearest_colour_name(rgb: RGB) -> str:
    """The palette name closest to ``rgb`` in RGB distance (labels recovered colours)."""
    return min(
        PALETTE, key=lambda n: sum((a - b) ** 2 for a, b in zip(PALETTE[n], rgb, strict=True))
    )


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """(N, 3) sRGB in [0, 1] -> (N, 3) CIE Lab (D65 white)."""
    rgb = np.asarray(rgb, dtype=np.float64)
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    to_xyz = np.array([[0.4124564, 0.3575761, 0.1804375],
                       [0.2126729, 0.7151522, 0.0721750],
                       [0.0193339, 0.1191920, 0.9503041]])
    xyz = linear @ to_xyz.T / np.array([0.95047, 1.0, 1.08883])
    epsilon, kappa = 216 / 24389, 24389 / 27
    f = np.where(xyz > epsilon, np.cbrt(xyz), (kappa * xyz + 16) / 116)
    return np.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]),
                     200 * (f[:, 1] - f[:, 2])], axis=1)


def delta_e76(rgb_a: np.ndarray, rgb_b: np.ndarray) -> np.ndarray:
    """(N,) Euclidean distances in Lab between two (N, 3) sRGB arrays."""
    return np.linalg.norm(srgb_to_lab(rgb_a) - srgb_to_lab(rgb_b), axis=1)
