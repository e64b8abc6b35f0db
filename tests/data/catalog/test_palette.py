"""The named palette and hex conversion."""

from __future__ import annotations

import pytest

from pigen.data.catalog.palette import COLOUR_NAMES, PALETTE, from_hex, nearest_colour_name, to_hex


def test_palette_has_the_colours_the_recipe_needs() -> None:
    assert {"white", "grey", "black", "red", "blue", "green"} <= set(PALETTE)
    assert 10 <= len(PALETTE) <= 14 and tuple(PALETTE) == COLOUR_NAMES
    assert PALETTE["white"] == (1.0, 1.0, 1.0)
    for rgb in PALETTE.values():
        assert len(rgb) == 3 and all(0.0 <= c <= 1.0 for c in rgb)
    assert max(PALETTE["black"]) > 0  # a pure black body would vanish into the background


def test_palette_colours_are_distinct() -> None:
    for name, rgb in PALETTE.items():
        assert nearest_colour_name(rgb) == name


def test_hex_round_trip() -> None:
    assert to_hex((1.0, 0.5, 0.0)) == "#ff8000"
    assert to_hex((1.2, -0.1, 0.0)) == "#ff0000"  # clipped
    for code in ("#000000", "#ffffff", "#12abef"):
        assert to_hex(from_hex(code)) == code
    with pytest.raises(ValueError, match="not #rrggbb"):
        from_hex("#12345")
    with pytest.raises(ValueError, match="not #rrggbb"):
        from_hex("#gg0000")
