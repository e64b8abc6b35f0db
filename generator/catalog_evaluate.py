"""Evaluation on a store's own catalog, without the Fashion-MNIST judge.

The judge knows ten Fashion-MNIST classes and four render patterns; a catalog
has its own. What needs no labels still says a lot:

* a Fréchet distance between generated and real catalog images in the features
  of a fixed, seeded random convolutional network (random features track
  low-level image statistics well enough to rank runs; Naeem et al. 2020 and
  others use them where no domain classifier exists), beside the real-vs-real
  floor (half the catalog against the other half) and uniform noise;
* the median colour Delta-E (CIE76) between asked and drawn body colour, beside
  the same measure on the real photos against their own labels;
* intra-condition diversity: mean pairwise feature distance of several seeds of
  one condition, beside that of real items sharing a category.

Figures in these features are comparable between runs on the same catalog,
not with the judge's FID of the built-in path.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from pigen.data.catalog.body_colour import estimate_body_colour
from pigen.data.catalog.palette import RGB, delta_e76
from pigen.data.catalog.training_set import CatalogTrainingSet
from pigen.data.conditions import ConditionLayout, one_hot_batch
from pigen.generator.catalog_training import layout_of, on_backdrop
from pigen.generator.distances import frechet_distance
from pigen.generator.models import Generator
from pigen.generator.sampling import sample, to_uint8

FEATURE_SEED = 20_161_600
DIVERSITY_CONDITIONS = 20
DIVERSITY_SEEDS = 8
SIDE = 32  # every image is compared at 32 px (area resampling), whatever it was made at


class RandomFeatures(nn.Module):
    """Three strided 3x3 convolutions with fixed seeded weights, mean-pooled: (N, 64)."""

    def __init__(self, seed: int = FEATURE_SEED) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        widths = (3, 32, 64, 64)
        self.convs = nn.ModuleList()
        for c_in, c_out in zip(widths[:-1], widths[1:], strict=True):
            conv = nn.Conv2d(c_in, c_out, 3, stride=2, padding=1, bias=False)
            with torch.no_grad():  # He-scaled, so activations keep their spread
                conv.weight.copy_(torch.randn(conv.weight.shape, generator=generator)
                                  * (2.0 / (c_in * 9)) ** 0.5)
            self.convs.append(conv)
        self.requires_grad_(False).eval()

    @torch.inference_mode()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(N, 3, R, R) in [0, 1] -> (N, 64)."""
        x = _at_side(images.float()) * 2.0 - 1.0
        for conv in self.convs:
            x = F.relu(conv(x))
        return x.mean(dim=(2, 3))


@dataclass(frozen=True)
class CatalogReference:
    """The catalog's real images, conditions and reference scores, computed once."""

    layout: ConditionLayout
    conditions: np.ndarray  # (N, D) each item's own condition
    colours: np.ndarray  # (N, 3) asked body colours
    features_real: np.ndarray  # (N, 64)
    references: dict[str, float]
    diversity_conditions: np.ndarray  # (K, D)
    background: RGB


def build_catalog_reference(catalog: CatalogTrainingSet, background: RGB,
                            seed: int = 0) -> CatalogReference:
    """Real images on ``background``, their features, and the real-data references."""
    layout = layout_of(catalog)
    features = RandomFeatures()
    real = torch.from_numpy(on_backdrop(catalog.images, catalog.masks, background)
                            ).permute(0, 3, 1, 2)  # (N, 3, R, R) in [0, 1]
    features_real = features(real).numpy()
    categories = np.array([layout.category_index(c) for c in catalog.categories])
    patterns = np.array([layout.pattern_index(p) for p in catalog.patterns])
    conditions = one_hot_batch(layout, categories, catalog.colours, patterns)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(catalog))
    half = len(order) // 2
    noise = torch.from_numpy(rng.random((max(len(catalog), 2), 3, SIDE, SIDE),
                                        dtype=np.float32))
    real_colours = estimate_body_colour(to_uint8(_at_side(real)), background)
    references = {
        "fid_catalog_noise": frechet_distance(features(noise).numpy(), features_real),
        "colour_delta_e_median_real": float(np.median(delta_e76(real_colours,
                                                                catalog.colours))),
    }
    diversity_real = _real_diversity(features_real, categories)
    if diversity_real is not None:
        references["diversity_real"] = diversity_real
    if half >= 2:
        references["fid_catalog_floor"] = frechet_distance(features_real[order[:half]],
                                                           features_real[order[half:]])
    k = min(DIVERSITY_CONDITIONS, len(catalog))
    return CatalogReference(layout, conditions, catalog.colours.astype(np.float32),
                            features_real, references, conditions[order[:k]], background)


def evaluate_on_catalog(model: Generator, reference: CatalogReference, n: int = 2000,
                        seed: int = 0) -> dict[str, float]:
    """FID-like, colour and diversity figures of ``model`` (eval mode) on the catalog."""
    features = RandomFeatures()
    rows = np.arange(n) % len(reference.conditions)  # every item's condition, cycled
    seeds = np.arange(n, dtype=np.int64) + seed * 1_000_003
    images = sample(model, reference.conditions[rows], seeds)  # (n, 3, R, R) in [0, 1]
    generated = features(images).numpy()
    drawn = estimate_body_colour(to_uint8(_at_side(images)), reference.background)
    metrics = {
        "fid_catalog": frechet_distance(generated, reference.features_real),
        "colour_delta_e_median": float(np.median(delta_e76(drawn, reference.colours[rows]))),
        "diversity": _generated_diversity(model, features, reference.diversity_conditions,
                                          seed),
        **reference.references,
    }
    return {k: round(float(v), 4) for k, v in metrics.items()}


def _generated_diversity(model: Generator, features: RandomFeatures, conditions: np.ndarray,
                         seed: int) -> float:
    repeated = np.repeat(conditions, DIVERSITY_SEEDS, axis=0)
    seeds = np.arange(len(repeated), dtype=np.int64) + 7_000_000 + seed
    found = features(sample(model, repeated, seeds)).numpy()
    return float(np.mean([_pairwise(f) for f in found.reshape(len(conditions),
                                                               DIVERSITY_SEEDS, -1)]))


def _real_diversity(features: np.ndarray, categories: np.ndarray) -> float | None:
    """Mean pairwise distance among (up to 8) real items of each category with two or more."""
    values = [_pairwise(features[np.flatnonzero(categories == c)[:DIVERSITY_SEEDS]])
              for c in np.unique(categories) if (categories == c).sum() >= 2]
    return float(np.mean(values)) if values else None


def _pairwise(features: np.ndarray) -> float:
    diff = features[:, None, :] - features[None, :, :]
    n = len(features)
    return float(np.sqrt((diff**2).sum(-1)).sum() / (n * (n - 1)))


def _at_side(images: torch.Tensor) -> torch.Tensor:
    if images.shape[-1] == SIDE:
        return images
    return F.interpolate(images, size=(SIDE, SIDE), mode="area")
