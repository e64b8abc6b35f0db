"""Losses as small pure functions: hinge (as in SNGAN / BigGAN) and colour fidelity."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from pigen.data.conditions import ConditionLayout


def discriminator_hinge_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """mean(relu(1 - D(real))) + mean(relu(1 + D(fake))): D wants real > 1, fake < -1."""
    return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()


def generator_hinge_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """-mean(D(fake)): G raises D's score of its images."""
    return -fake_logits.mean()


def colour_fidelity_loss(alpha: torch.Tensor, body: torch.Tensor, conditions: torch.Tensor,
                         layout: ConditionLayout, opaque_target: float,
                         ground_share: float = 0.0) -> torch.Tensor:
    """Facts about real renders the adversarial loss alone did not enforce.

    * On a *solid* condition the body's tint is exactly the asked colour, so the
      opacity-weighted squared error of the body colour is a supervised target.
    * A product's most opaque pixels (the top 1%) are as opaque as real shapes'
      (``opaque_target``, the median over Fashion-MNIST training shapes).
    * With ``ground_share`` > 0, on a *patterned* condition that share of the
      product's pixels is the asked colour: a print's lines and dots are a minority
      of the body (its ground is the colour), but which pixels they are is free
      (:func:`ground_colour_error`).
    """
    colour = conditions[:, layout.colour_slice][:, :, None, None]  # (B, 3, 1, 1)
    solid = conditions[:, layout.pattern_slice.start + layout.plain_pattern_index] > 0.5  # (B,)
    error = (alpha * (body - colour).square()).sum(dim=(1, 2, 3)) / (
        alpha.sum(dim=(1, 2, 3)) * 3 + 1e-6)  # (B,)
    colour_term = (error * solid).sum() / solid.sum().clamp(min=1)
    if ground_share > 0:
        patterned = ~solid
        ground = ground_colour_error(alpha, body, colour, ground_share)
        colour_term = colour_term + (ground * patterned).sum() / patterned.sum().clamp(min=1)
    return colour_term + opacity_loss(alpha, opaque_target)


def ground_colour_error(alpha: torch.Tensor, body: torch.Tensor, colour: torch.Tensor,
                        share: float) -> torch.Tensor:
    """(B,) mean squared colour error of the ``share`` of product pixels closest to ``colour``.

    Product pixels are those more than half opaque. Only the closest ones count, so
    the print may take the rest in any tint and place; a body whose every pixel is
    off (a pale or shifted ground, the error the median Delta-E reads) is pulled back.
    """
    error = (body - colour).square().mean(dim=1).flatten(1)  # (B, HW)
    product = alpha.flatten(1) > 0.5
    ranked = torch.where(product, error, torch.full_like(error, float("inf"))).sort(dim=1).values
    keep = (product.sum(dim=1) * share).floor()  # (B,) pixels that must be the colour
    kept = torch.arange(error.shape[1], device=error.device)[None, :] < keep[:, None]
    return torch.where(kept, ranked, torch.zeros_like(ranked)).sum(dim=1) / keep.clamp(min=1)


def opacity_loss(alpha: torch.Tensor, opaque_target: float) -> torch.Tensor:
    """A product's top 1% opacity falls short of ``opaque_target``: mean squared shortfall.

    The second half of :func:`colour_fidelity_loss`; alone where no pattern is
    "solid" (a catalog's layout), so no condition's tint is a known target.
    """
    k = max(1, alpha[0].numel() // 100)
    top = alpha.flatten(1).topk(k, dim=1).values.mean(dim=1)  # (B,)
    return (opaque_target - top).clamp(min=0).square().mean()


def real_opaque_level(shapes: np.ndarray) -> float:
    """Median over shapes of the mean of each shape's top 1% intensities, in [0, 1]."""
    flat = shapes.reshape(len(shapes), -1)
    k = max(1, (32 * 32) // 100)  # the same pixel count as the generator's top 1%
    top = np.sort(flat[:: max(1, len(flat) // 5000)], axis=1)[:, -k:].mean(axis=1) / 255.0
    return float(np.median(top))
