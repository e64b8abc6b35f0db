"""DiffAugment (Zhao et al. 2020): differentiable augmentation of D's inputs.

Translation only. Colour augmentation is never applied: colour is a condition,
and a D that sees recoloured reals would teach G to ignore it. Cutout is not
used either: training data is unlimited (every batch is freshly rendered), and
cutout paints a grey square no product photo has. Real and generated batches go
through the same policy.

Besides augmentation, what D sees can be blurred early in a run
(:func:`gaussian_blur`, with :func:`blur_sigma` fading it out), so a fresh D judges
outlines before print detail.
"""

from __future__ import annotations

import math

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


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """(B, C, H, W) blurred by a Gaussian of ``sigma`` px, edges reflected.

    Two matrix products (rows, then columns) with the blur and the reflection
    folded into one (side x side) matrix each: 7x faster on a CPU than a grouped
    convolution, forward and backward, and the same numbers. Differentiable, so
    G's gradient passes through what D sees. ``sigma`` <= 0 is the identity.
    """
    if sigma <= 0:
        return x
    across = blur_matrix(x.shape[-1], sigma).to(x)
    down = blur_matrix(x.shape[-2], sigma).to(x)
    return down @ (x @ across.T)


def blur_matrix(n: int, sigma: float) -> torch.Tensor:
    """(n, n) float64: row i holds the Gaussian weights of pixel i's neighbours along
    a line of ``n`` pixels, reflected at both ends (``F.pad(mode="reflect")``)."""
    radius = max(1, min(math.ceil(3 * sigma), n - 1))
    taps = torch.arange(-radius, radius + 1, dtype=torch.float64)
    weights = torch.exp(-0.5 * (taps / sigma) ** 2)
    weights = weights / weights.sum()
    source = torch.arange(n)[:, None] + taps.long()[None, :]  # (n, taps)
    source = source.abs()  # reflect at 0 ...
    source = torch.where(source > n - 1, 2 * (n - 1) - source, source)  # ... and at n - 1
    matrix = torch.zeros(n, n, dtype=torch.float64)
    matrix.scatter_add_(1, source, weights.expand(n, -1).contiguous())
    return matrix


def blur_sigma(step: int, initial: float, fade_steps: int) -> float:
    """The D blur's sigma at ``step``: ``initial`` fading linearly to 0 at ``fade_steps``."""
    if initial <= 0 or fade_steps <= 0 or step >= fade_steps:
        return 0.0
    return initial * (1.0 - step / fade_steps)
