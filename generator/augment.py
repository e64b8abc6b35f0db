"""DiffAugment (Zhao et al. 2020): differentiable augmentation of D's inputs.

Translation and cutout only. Colour augmentation is never applied: colour is a
condition, and a D that sees recoloured reals would teach G to ignore it.
Both real and generated batches go through the same policy.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

BACKGROUND = -1.0  # black, in the [-1, 1] image range


def diff_augment(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Random translation (1/8 of the side) then cutout (a half-side square). (B, C, H, W)."""
    return rand_cutout(rand_translation(x, generator=generator), generator=generator)


def rand_translation(x: torch.Tensor, ratio: float = 0.125,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """Shift each image by up to ``ratio`` of its side; uncovered pixels become background."""
    b, _, h, w = x.shape
    shift_h, shift_w = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-shift_h, shift_h + 1, (b, 1, 1), generator=generator).to(x.device)
    dx = torch.randint(-shift_w, shift_w + 1, (b, 1, 1), generator=generator).to(x.device)
    batch, rows, cols = torch.meshgrid(
        torch.arange(b, device=x.device), torch.arange(h, device=x.device),
        torch.arange(w, device=x.device), indexing="ij",
    )
    rows = torch.clamp(rows + dy + 1, 0, h + 1)
    cols = torch.clamp(cols + dx + 1, 0, w + 1)
    padded = F.pad(x, [1, 1, 1, 1], value=BACKGROUND)  # the border row/col is the fill
    return padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)


def rand_cutout(x: torch.Tensor, ratio: float = 0.5,
                generator: torch.Generator | None = None) -> torch.Tensor:
    """Zero one ``ratio``-side square per image at a random place (may overhang the edge)."""
    b, _, h, w = x.shape
    size_h, size_w = int(h * ratio + 0.5), int(w * ratio + 0.5)
    off_h = torch.randint(0, h + (1 - size_h % 2), (b, 1, 1), generator=generator).to(x.device)
    off_w = torch.randint(0, w + (1 - size_w % 2), (b, 1, 1), generator=generator).to(x.device)
    batch, rows, cols = torch.meshgrid(
        torch.arange(b, device=x.device), torch.arange(size_h, device=x.device),
        torch.arange(size_w, device=x.device), indexing="ij",
    )
    rows = torch.clamp(rows + off_h - size_h // 2, 0, h - 1)
    cols = torch.clamp(cols + off_w - size_w // 2, 0, w - 1)
    mask = torch.ones(b, h, w, dtype=x.dtype, device=x.device)
    mask[batch, rows, cols] = 0
    return x * mask.unsqueeze(1)
