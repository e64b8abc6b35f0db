"""DiffAugment (Zhao et al. 2020): differentiable augmentation of D's inputs.

Translation only. Colour augmentation is never applied: colour is a condition,
and a D that sees recoloured reals would teach G to ignore it. Cutout is not
used either: training data is unlimited (every batch is freshly rendered), and
cutout paints a grey square no product photo has. Real and generated batches go
through the same policy.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def rand_translation(x: torch.Tensor, ratio: float = 0.125,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """Shift each image by up to ``ratio`` of its side. (B, C, H, W) -> same.

    Uncovered pixels repeat the image's own edge, which is backdrop for a centred
    product: the shifted image is still a product on its studio background,
    whatever that background's colour.
    """
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
    padded = F.pad(x, [1, 1, 1, 1], mode="replicate")  # the border row/col is the fill
    return padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)
