"""Spectral texture statistics: what each column measures, invariances, block scaling."""

from __future__ import annotations

import numpy as np
import pytest

from pigen.data.catalog.texture_stats import (
    SMOOTH_COLUMNS,
    TextureStatsConfig,
    combine_blocks,
    grouping_features,
    interior,
    print_pixels,
    spectrum_features,
    stat_blocks,
)
from pigen.data.typed_config import ConfigError

SIDE = 64
BACKDROP = np.array([0.95, 0.94, 0.92])
DYE = np.array([0.2, 0.3, 0.6])
LINE = np.array([0.7, 0.7, 0.75])  # a light print, apart from the backdrop


def product(weight: np.ndarray, noise_seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A square product (dye turning to LINE by ``weight``) on the backdrop, with a
    little pixel noise: (R, R, 3) image, (R, R) mask."""
    rng = np.random.default_rng(noise_seed)
    mask = np.zeros((SIDE, SIDE), dtype=bool)
    mask[8:56, 8:56] = True
    colour = DYE + weight[..., None] * (LINE - DYE)  # (R, R, 3)
    image = np.where(mask[..., None], colour, BACKDROP) + rng.normal(0, 0.005, (SIDE, SIDE, 3))
    return np.clip(image, 0, 1), mask


def textures() -> dict[str, np.ndarray]:
    """Weights of a few prints: solid, horizontal stripes, diagonal lines, a ramp."""
    y, x = np.mgrid[0:SIDE, 0:SIDE].astype(np.float64)
    return {"solid": np.zeros((SIDE, SIDE)),
            "stripes": ((y % 6) < 2).astype(np.float64),
            "diagonal": (((x + y) % 8) < 3).astype(np.float64),
            "ramp": np.clip((x - 20) / 30, 0, 1)}


def features_of(names: list[str], **config: object) -> dict[str, np.ndarray]:
    weights = textures()
    pairs = [product(weights[n], seed) for seed, n in enumerate(names)]
    images = np.stack([p[0] for p in pairs]).astype(np.float32)
    masks = np.stack([p[1] for p in pairs])
    values = spectrum_features(images, masks, TextureStatsConfig(**config))  # type: ignore[arg-type]
    return dict(zip(names, values, strict=True))


def test_columns_tell_solid_periodic_and_ramp_apart() -> None:
    config = TextureStatsConfig()
    rings = len(config.radial_edges) - 1
    total, periodic = rings, rings + 1
    smooth_share, hinge_share = config.dim - 2, config.dim - 1
    found = features_of(["solid", "stripes", "diagonal", "ramp"])
    assert all(v.shape == (config.dim,) for v in found.values())
    # a solid has far less power than any print
    assert found["solid"][total] < min(found[n][total] for n in ("stripes", "ramp")) - 3
    # a periodic print's band power stands in peaks; noise's does not
    for name in ("stripes", "diagonal"):
        assert found[name][periodic] > found["solid"][periodic] + 2
    # a quadratic surface explains a ramp, not stripes
    assert found["ramp"][smooth_share] > 0.8
    assert found["stripes"][smooth_share] < 0.1
    # ... and so does a straight hinge, which stripes do not fit
    assert found["ramp"][hinge_share] > 0.8
    assert found["stripes"][hinge_share] < 0.2
    # the ramp's power is in the coarsest band, the stripes' is not
    assert found["ramp"][0] > found["stripes"][0] + 1
    assert len(SMOOTH_COLUMNS) == 3


def test_orientation_shares_fold_quarter_turns_and_see_diagonals() -> None:
    config = TextureStatsConfig()
    start = len(config.radial_edges) + 1
    shares = slice(start, start + config.orientation_bins)
    stripes, mask = product(textures()["stripes"])
    diagonal, _ = product(textures()["diagonal"])
    turned = [stripes, np.rot90(stripes), diagonal, np.fliplr(diagonal)]
    masks = [mask, np.rot90(mask), mask, np.fliplr(mask)]
    values = spectrum_features(np.stack(turned), np.stack(masks))
    np.testing.assert_allclose(values[0], values[1], atol=1e-6)  # a quarter turn
    np.testing.assert_allclose(values[2, shares], values[3, shares], atol=1e-6)  # a flip
    assert values[0, shares].argmax() == 0  # straight stripes: the 0-degree bin
    assert values[2, shares].argmax() == config.orientation_bins - 1  # diagonal: 45


def test_features_ignore_the_dye_brightness() -> None:
    weight = textures()["stripes"]
    image, mask = product(weight)
    darker = np.clip(image - 0.1 * mask[..., None], 0, 1)
    values = spectrum_features(np.stack([image, darker]), np.stack([mask, mask]))
    np.testing.assert_allclose(values[0], values[1], atol=0.02)  # noise clips a little


def test_print_pixels_drop_backdrop_seen_through_the_product() -> None:
    image, mask = product(textures()["solid"])
    image[28:36, 28:36] = BACKDROP  # a hole, like a bag's handle
    kept = print_pixels(image[None], mask[None], share=0.25)[0]
    assert not kept[28:36, 28:36].any()
    assert kept[mask].sum() == mask.sum() - 64
    # thin lines in the backdrop's own colour are print, not holes
    lined, _ = product(textures()["solid"])
    lined[8:56:6] = BACKDROP
    assert print_pixels(lined[None], mask[None], share=0.25)[0][mask].all()


def test_interior_erodes_but_never_empties_a_mask() -> None:
    masks = np.zeros((2, 16, 16), dtype=bool)
    masks[0, 2:14, 2:14] = True  # 12 x 12: eroded by 2 -> 8 x 8
    masks[1, 7:9, 1:15] = True  # a 2 px strap: erosion would empty it
    inner = interior(masks, margin=2)
    assert inner[0].sum() == 64
    np.testing.assert_array_equal(inner[1], masks[1])


def test_combine_blocks_weighs_blocks_not_columns() -> None:
    rng = np.random.default_rng(1)
    wide = rng.normal(5, 100, size=(50, 40))
    narrow = rng.normal(0, 0.01, size=(50, 2))
    constant = np.ones((50, 1))
    combined = combine_blocks([wide, narrow, constant], [1.0, 2.0, 1.0])
    assert combined.shape == (50, 43)
    np.testing.assert_allclose(combined[:, :40].var(axis=0).sum(), 1.0)
    np.testing.assert_allclose(combined[:, 40:42].var(axis=0).sum(), 2.0)
    np.testing.assert_array_equal(combined[:, 42], 0.0)
    with pytest.raises(ValueError, match="one non-negative weight"):
        combine_blocks([wide, narrow], [1.0])
    with pytest.raises(ValueError, match="N = 50"):
        combine_blocks([wide, narrow[:10]])


def test_config_rejects_bad_bands() -> None:
    with pytest.raises(ConfigError):
        TextureStatsConfig(radial_edges=(0.1, 0.05))
    with pytest.raises(ConfigError):
        TextureStatsConfig(orientation_band=(0.3, 0.2))
    with pytest.raises(ConfigError):
        TextureStatsConfig(peak_factor=1.0)


def test_grouping_features_weigh_the_encoder_against_each_statistics_block() -> None:
    config = TextureStatsConfig()
    rng = np.random.default_rng(2)
    stats = rng.normal(size=(30, config.dim))
    learned = rng.normal(size=(30, 64))
    blocks = stat_blocks(stats, config)
    assert [b.shape[1] for b in blocks] == [len(config.radial_edges) + 1,
                                           config.orientation_bins, len(SMOOTH_COLUMNS)]
    np.testing.assert_array_equal(np.hstack(blocks), stats)
    combined = grouping_features(learned, stats, config, learned_weight=0.5)
    assert combined.shape == (30, 64 + config.dim)
    np.testing.assert_allclose(combined[:, :64].var(axis=0).sum(), 0.5)
    np.testing.assert_allclose(combined[:, 64:].var(axis=0).sum(), 3.0)
    with pytest.raises(ValueError, match="statistics"):
        stat_blocks(stats[:, :-1], config)


def test_a_pale_see_through_area_is_backdrop_not_texture() -> None:
    """A plain product's thin or see-through part mixes with the backdrop. Where a
    pixel is more backdrop than product it is dropped, so the product reads plain,
    not as an ombre fading towards the backdrop."""
    config = TextureStatsConfig()
    y, x = np.mgrid[0:SIDE, 0:SIDE]
    pale_area = ((x - 32) ** 2 / 120 + (y - 36) ** 2 / 60) < 1  # an oval in the product
    plain, mask = product(np.zeros((SIDE, SIDE)))
    pale = plain.copy()
    pale[pale_area] = 0.3 * DYE + 0.7 * BACKDROP
    kept = print_pixels(pale[None], mask[None], config.backdrop_share, config.hole_radius)[0]
    assert not kept[pale_area].any()
    assert kept[mask & ~pale_area].all()
    total = len(config.radial_edges) - 1
    found = spectrum_features(np.stack([plain, pale]).astype(np.float32),
                              np.stack([mask, mask]), config)
    assert abs(found[1][total] - found[0][total]) < 1.0  # as little texture as the plain one
