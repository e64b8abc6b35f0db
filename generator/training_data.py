"""Training batches rendered on the fly with the built-in catalog's recipe.

Real Fashion-MNIST shapes, with colour and pattern drawn fresh for every
draw, so the generator sees every (category, colour, pattern) combination
rather than the 2,000 the catalog happens to hold. Colour is half palette
(plus jitter), half uniform RGB: merchandisers ask for any ``#rrggbb``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch
import torch.nn.functional as F

from pigen.data.catalog.palette import PALETTE_RGB, RGB
from pigen.data.catalog.render import DEFAULT_BACKGROUND, render_product
from pigen.data.conditions import ConditionLayout, one_hot_batch


@dataclass(frozen=True)
class RenderedBatch:
    images: torch.Tensor  # (B, 3, R, R) float32 in [-1, 1]
    conditions: torch.Tensor  # (B, D) float32, one-hot category and pattern, RGB colour
    labels: torch.Tensor  # (B,) int64 category index
    patterns: torch.Tensor  # (B,) int64 pattern index
    colours: torch.Tensor  # (B, 3) float32 RGB in [0, 1]
    # (B, D) what the generator is asked for this step; None: ``conditions`` (the
    # built-in renders). A catalog draws them apart: its items' conditions + jitter.
    fake_conditions: torch.Tensor | None = None


class TrainingStream(Protocol):
    """Seeded batches of (real image, condition) whose state a checkpoint carries."""

    def next_batch(self, batch_size: int) -> RenderedBatch: ...

    def state(self) -> dict[str, Any]: ...

    def set_state(self, state: dict[str, Any]) -> None: ...


class RenderStream:
    """An endless, seeded stream of rendered (image, condition) batches.

    Its state (one numpy generator) is saved in checkpoints, so a resumed run
    draws the very batches the uninterrupted run would have.
    """

    def __init__(self, shapes: np.ndarray, labels: np.ndarray, layout: ConditionLayout,
                 seed: int, resolution: int = 32, palette_fraction: float = 0.5,
                 colour_jitter: float = 0.08, background: RGB = DEFAULT_BACKGROUND) -> None:
        if shapes.ndim != 3 or shapes.shape[1:] != (28, 28) or len(shapes) != len(labels):
            raise ValueError("shapes must be (N, 28, 28) with one label each")
        if int(labels.max()) >= layout.n_categories:
            raise ValueError("a label has no category in the layout")
        self.shapes = shapes
        self.labels = labels.astype(np.int64)
        self.layout = layout
        self.resolution = resolution
        self.palette_fraction = palette_fraction
        self.colour_jitter = colour_jitter
        self.background = background
        self.rng = np.random.default_rng(seed)

    def next_batch(self, batch_size: int) -> RenderedBatch:
        """Draw shapes (uniformly), colours and patterns; render; return tensors."""
        rng = self.rng
        picks = rng.integers(len(self.shapes), size=batch_size)
        return render_drawn(self.shapes[picks], self.labels[picks], self.layout, rng,
                            self.resolution, self.palette_fraction, self.colour_jitter,
                            self.background)

    def state(self) -> dict[str, Any]:
        return dict(self.rng.bit_generator.state)

    def set_state(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state


def draw_colours(rng: np.random.Generator, n: int, palette_fraction: float,
                 jitter: float) -> np.ndarray:
    """(n, 3) RGB in [0, 1]: palette colours plus Gaussian jitter, or uniform RGB."""
    from_palette = rng.random(n) < palette_fraction
    anchors = PALETTE_RGB[rng.integers(len(PALETTE_RGB), size=n)]
    palette = np.clip(anchors + rng.normal(0.0, jitter, (n, 3)), 0.0, 1.0)
    uniform = rng.random((n, 3))
    return np.where(from_palette[:, None], palette, uniform).astype(np.float32)


def render_drawn(shapes: np.ndarray, labels: np.ndarray, layout: ConditionLayout,
                 rng: np.random.Generator, resolution: int = 32, palette_fraction: float = 0.5,
                 colour_jitter: float = 0.08,
                 background: RGB = DEFAULT_BACKGROUND) -> RenderedBatch:
    """Render given shapes with colours and patterns drawn from ``rng`` (training mix)."""
    colours = draw_colours(rng, len(shapes), palette_fraction, colour_jitter)
    pattern_codes = rng.integers(layout.n_patterns, size=len(shapes))
    return render_batch(shapes, labels, colours, pattern_codes, layout, rng, resolution,
                        background)


def render_batch(shapes: np.ndarray, labels: np.ndarray, colours: np.ndarray,
                 pattern_codes: np.ndarray, layout: ConditionLayout, rng: np.random.Generator,
                 resolution: int = 32, background: RGB = DEFAULT_BACKGROUND) -> RenderedBatch:
    """Render each shape with the catalog recipe; conditions one-hot in ``layout`` order."""
    images = np.stack([
        render_product(shapes[k], tuple(colours[k].tolist()), layout.patterns[pattern_codes[k]],
                       rng, background)
        for k in range(len(shapes))
    ])  # (B, 32, 32, 3) uint8
    pixels = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1.0
    if resolution != pixels.shape[-1]:
        pixels = F.interpolate(pixels, size=(resolution, resolution), mode="bilinear",
                               align_corners=False)
    conditions = one_hot_batch(layout, labels, colours, pattern_codes)
    return RenderedBatch(
        images=pixels.contiguous(),
        conditions=torch.from_numpy(conditions),
        labels=torch.from_numpy(np.asarray(labels, dtype=np.int64)),
        patterns=torch.from_numpy(np.asarray(pattern_codes, dtype=np.int64)),
        colours=torch.from_numpy(colours.astype(np.float32)),
    )
