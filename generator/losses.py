"""GAN losses as small pure functions (hinge, as in SNGAN / BigGAN)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def discriminator_hinge_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """mean(relu(1 - D(real))) + mean(relu(1 + D(fake))): D wants real > 1, fake < -1."""
    return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()


def generator_hinge_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """-mean(D(fake)): G raises D's score of its images."""
    return -fake_logits.mean()
