import numpy as np
import torch

from pigen.data.catalog.palette import PALETTE
from pigen.data.conditions import ConditionLayout, one_hot, stack
from pigen.generator.losses import colour_fidelity_loss, real_opaque_level


def _conditions(layout: ConditionLayout, pattern: str) -> torch.Tensor:
    return torch.from_numpy(stack([one_hot(layout, "Dress", PALETTE["navy"], pattern)] * 2))


def test_colour_fidelity_is_zero_for_an_opaque_body_of_the_asked_colour(layout) -> None:
    conditions = _conditions(layout, "solid")
    alpha = torch.ones(2, 1, 8, 8)
    body = torch.tensor(PALETTE["navy"]).view(1, 3, 1, 1).expand(2, 3, 8, 8)
    assert float(colour_fidelity_loss(alpha, body, conditions, layout, 0.95)) == 0.0
    lighter = (body + 0.2).clamp(max=1.0)
    assert float(colour_fidelity_loss(alpha, lighter, conditions, layout, 0.95)) > 0.03
    faint = alpha * 0.8  # the most opaque pixels short of real shapes' 0.95
    assert float(colour_fidelity_loss(faint, body, conditions, layout, 0.95)) > 0.02


def test_patterned_products_keep_their_second_tint(layout) -> None:
    alpha = torch.ones(2, 1, 8, 8)
    body = torch.rand(2, 3, 8, 8)  # two tints, by design
    loss = colour_fidelity_loss(alpha, body, _conditions(layout, "striped"), layout, 0.95)
    assert float(loss) == 0.0


def test_real_opaque_level_reads_the_brightest_pixels() -> None:
    shapes = np.zeros((10, 28, 28), np.uint8)
    shapes[:, 5:20, 5:20] = 200
    shapes[:, 10, 10:25] = 255  # 15 full pixels: the top 10 (1% of 32x32) are all full
    assert real_opaque_level(shapes) == 1.0
    shapes[:, 10, 15:25] = 200  # now 5 full and the rest at 200
    assert abs(real_opaque_level(shapes) - (5 * 255 + 5 * 200) / 10 / 255) < 1e-9


def test_a_patterned_ground_is_held_to_the_asked_colour_where_asked(layout) -> None:
    """With a ground share, a print on the asked colour costs nothing wherever it is,
    and a body whose every pixel is off does."""
    conditions = _conditions(layout, "striped")
    alpha = torch.ones(2, 1, 8, 8)
    navy = torch.tensor(PALETTE["navy"]).view(1, 3, 1, 1)
    printed = navy.expand(2, 3, 8, 8).clone()
    printed[:, :, ::3] = 1.0  # every third row white: a third of the body is print
    assert float(colour_fidelity_loss(alpha, printed, conditions, layout, 0.95, 0.5)) == 0.0
    pale = (printed + 0.2).clamp(max=1.0)  # the ground is off everywhere
    assert float(colour_fidelity_loss(alpha, pale, conditions, layout, 0.95, 0.5)) > 0.03
    assert float(colour_fidelity_loss(alpha, pale, conditions, layout, 0.95)) == 0.0  # off
    # transparent pixels are not product: the same ground on a half-empty canvas is fine
    half = alpha.clone()
    half[:, :, :, :4] = 0.0
    assert float(colour_fidelity_loss(half, printed, conditions, layout, 0.95, 0.5)) == 0.0
