"""The named colours of the built-in catalog, and hex <-> RGB conversion.

Colours are RGB in [0, 1], the same units as the condition vector's colour part.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

RGB = tuple[float, float, float]

#: Name -> RGB in [0, 1]. "black" is a dark charcoal, not (0, 0, 0): the recipe
#: multiplies the shape by the colour, and a pure black body would vanish into the
#: black background, leaving nothing to learn.
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
