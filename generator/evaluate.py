"""Judge-based evaluation of a generator, always beside real-data references.

Protocol (all with held-out Fashion-MNIST *test* shapes, never seen in training):

* the test set is split in two disjoint halves, A and B, each rendered with
  seeded colours and patterns; A's conditions are what the generator is asked for;
* FID / KID of the generated images against B, beside three references against
  B with the same judge: A itself (the real-vs-real floor), the class-mean
  shapes rendered with A's conditions (a blurry baseline) and uniform noise;
* category and pattern accuracy of the judge on the generated images (and on A,
  the judge's own accuracy on real renders), median colour Delta-E to the asked
  colour (and the same measure on A), and intra-condition diversity (mean
  pairwise feature distance of several seeds of one condition, beside real renders
  of different shapes under one condition);
* per category: accuracy and FID against B's images of that category (beside
  the real floor of A's against B's); per palette colour: median Delta-E of
  solid images asked for exactly that colour, dark colours included.

Everything is rendered on ``background`` (the generator's backdrop), and colours
are read off against it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from pigen.data.catalog.body_colour import estimate_body_colour
from pigen.data.catalog.palette import COLOUR_NAMES, PALETTE_RGB, RGB, delta_e76
from pigen.data.catalog.render import DEFAULT_BACKGROUND
from pigen.data.conditions import ConditionLayout, one_hot_batch
from pigen.generator.distances import frechet_distance, kernel_inception_distance
from pigen.generator.judge import Judge, judge_images
from pigen.generator.models import Generator
from pigen.generator.sampling import sample, to_uint8
from pigen.generator.training_data import draw_colours, render_batch, render_drawn

DIVERSITY_CONDITIONS = 100
DIVERSITY_SEEDS = 8
#: Images per palette colour in the per-colour Delta-E table (every category, solid).
PER_COLOUR_IMAGES = 80


@dataclass(frozen=True)
class EvaluationReference:
    """Real renders and reference scores, computed once per (judge, size, seed)."""

    layout: ConditionLayout
    conditions: np.ndarray  # (N, D) set A's conditions: what the generator is asked for
    labels: np.ndarray  # (N,) A's categories
    patterns: np.ndarray  # (N,) A's patterns
    colours: np.ndarray  # (N, 3) A's colours
    features_b: np.ndarray  # (N, F) judge features of set B
    labels_b: np.ndarray  # (N,) B's categories
    references: dict[str, float]  # floor, class-mean and noise scores, real accuracies
    per_category_real: dict[str, dict[str, float]]  # A vs B, per category
    diversity_conditions: np.ndarray  # (K, D)
    colour_conditions: np.ndarray  # (K * PER_COLOUR_IMAGES, D), palette colour k in block k
    background: RGB = DEFAULT_BACKGROUND
    per_pattern_real: dict[str, dict[str, Any]] = field(default_factory=dict)  # A, per pattern


def build_reference(judge: Judge, layout: ConditionLayout, test_shapes: np.ndarray,
                    test_labels: np.ndarray, class_means: np.ndarray, n: int = 5000,
                    seed: int = 0, background: RGB = DEFAULT_BACKGROUND) -> EvaluationReference:
    """Render sets A and B (n each at most) on ``background`` and score the references."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(test_shapes))
    n = min(n, len(order) // 2)
    a_idx, b_idx = order[:n], order[n:2 * n]
    set_a = render_drawn(test_shapes[a_idx], test_labels[a_idx], layout, rng,
                         background=background)
    set_b = render_drawn(test_shapes[b_idx], test_labels[b_idx], layout, rng,
                         background=background)
    judged_a = judge_images(judge, _unit(set_a.images))
    judged_b = judge_images(judge, _unit(set_b.images))
    # The blurry baseline: each class's mean shape under A's conditions.
    means = render_batch(class_means[set_a.labels.numpy()], set_a.labels.numpy(),
                         set_a.colours.numpy(), set_a.patterns.numpy(), layout,
                         np.random.default_rng(seed + 1), background=background)
    judged_means = judge_images(judge, _unit(means.images))
    noise = torch.from_numpy(np.random.default_rng(seed + 2).random((n, 3, 32, 32),
                                                                    dtype=np.float32))
    judged_noise = judge_images(judge, noise)
    colours_a = set_a.colours.numpy()
    references = {
        "fid_floor": frechet_distance(judged_a.features, judged_b.features),
        "kid_floor": kernel_inception_distance(judged_a.features, judged_b.features),
        "fid_class_mean": frechet_distance(judged_means.features, judged_b.features),
        "fid_noise": frechet_distance(judged_noise.features, judged_b.features),
        "category_accuracy_real": _accuracy(judged_a.category, set_a.labels.numpy()),
        "pattern_accuracy_real": _accuracy(judged_a.pattern, set_a.patterns.numpy()),
        "colour_delta_e_median_real": float(np.median(delta_e76(
            estimate_body_colour(_uint8(set_a.images), background), colours_a))),
        "diversity_real": _real_diversity(judge, test_shapes, test_labels, layout, rng,
                                          background),
    }
    labels_a, labels_b = set_a.labels.numpy(), set_b.labels.numpy()
    per_category_real = _per_category(layout, judged_a.features, judged_a.category, labels_a,
                                      judged_b.features, labels_b)
    k = min(DIVERSITY_CONDITIONS, n)
    return EvaluationReference(layout, set_a.conditions.numpy(), labels_a,
                               set_a.patterns.numpy(), colours_a, judged_b.features, labels_b,
                               references, per_category_real, set_a.conditions.numpy()[:k],
                               palette_conditions(layout), background,
                               _per_pattern(layout, judged_a.pattern, set_a.patterns.numpy()))


def palette_conditions(layout: ConditionLayout) -> np.ndarray:
    """(K * PER_COLOUR_IMAGES, D): each palette colour exactly, solid, over every category.

    Solid, because a patterned product shows two colours by design (the pattern
    tone is the recipe's, not the request's).
    """
    k, m = len(PALETTE_RGB), PER_COLOUR_IMAGES
    categories = np.tile(np.arange(m) % layout.n_categories, k)
    patterns = np.full(k * m, layout.plain_pattern_index)
    colours = np.repeat(PALETTE_RGB.astype(np.float32), m, axis=0)
    return one_hot_batch(layout, categories, colours, patterns)


def _per_category(layout: ConditionLayout, features: np.ndarray, predicted: np.ndarray,
                  labels: np.ndarray, features_b: np.ndarray,
                  labels_b: np.ndarray) -> dict[str, dict[str, float]]:
    """{category: {accuracy, fid}}: one class's images against B's images of that class."""
    table = {}
    for index, name in enumerate(layout.categories):
        mine, theirs = labels == index, labels_b == index
        if mine.sum() < 2 or theirs.sum() < 2:
            continue
        table[name] = {
            "accuracy": round(float((predicted[mine] == index).mean()), 4),
            "fid": round(frechet_distance(features[mine], features_b[theirs]), 4),
        }
    return table


def _per_pattern(layout: ConditionLayout, predicted: np.ndarray, patterns: np.ndarray
                 ) -> dict[str, dict[str, Any]]:
    """{pattern: {accuracy, mistaken_for}}: how often the judge sees the asked pattern,
    and the pattern it sees most often instead (None when never mistaken)."""
    table: dict[str, dict[str, Any]] = {}
    for index, name in enumerate(layout.patterns):
        mine = patterns == index
        if not mine.any():
            continue
        wrong = predicted[mine][predicted[mine] != index]
        table[name] = {
            "accuracy": round(float((predicted[mine] == index).mean()), 4),
            "mistaken_for": (layout.patterns[int(np.bincount(wrong).argmax())]
                             if len(wrong) else None),
        }
    return table


def evaluate_generator(model: Generator, judge: Judge, reference: EvaluationReference,
                       seed: int = 0) -> dict[str, Any]:
    """All metrics of ``model`` (eval mode) against a prepared reference."""
    n = len(reference.conditions)
    seeds = np.arange(n, dtype=np.int64) + seed * 1_000_003
    images = sample(model, reference.conditions, seeds)  # (N, 3, R, R) in [0, 1]
    judged = judge_images(judge, images)
    colours = estimate_body_colour(to_uint8(_at_32(images)), reference.background)
    metrics: dict[str, Any] = {
        "n_images": n,
        "fid": frechet_distance(judged.features, reference.features_b),
        "kid": kernel_inception_distance(judged.features, reference.features_b),
        "category_accuracy": _accuracy(judged.category, reference.labels),
        "pattern_accuracy": _accuracy(judged.pattern, reference.patterns),
        "colour_delta_e_median": float(np.median(delta_e76(colours, reference.colours))),
        "diversity": _generated_diversity(model, judge, reference.diversity_conditions, seed),
    }
    metrics.update(reference.references)
    metrics["fid_ratio_to_class_mean"] = metrics["fid"] / max(metrics["fid_class_mean"], 1e-12)
    metrics = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in metrics.items()}
    generated = _per_category(reference.layout, judged.features, judged.category,
                              reference.labels, reference.features_b, reference.labels_b)
    metrics["per_category"] = {
        name: {**row, "accuracy_real": reference.per_category_real[name]["accuracy"],
               "fid_real": reference.per_category_real[name]["fid"]}
        for name, row in generated.items() if name in reference.per_category_real}
    generated_patterns = _per_pattern(reference.layout, judged.pattern, reference.patterns)
    metrics["per_pattern"] = {
        name: {**row, "accuracy_real": reference.per_pattern_real[name]["accuracy"]}
        for name, row in generated_patterns.items() if name in reference.per_pattern_real}
    metrics["per_colour_delta_e"] = _per_colour_delta_e(model, reference, seed)
    return metrics


def _per_colour_delta_e(model: Generator, reference: EvaluationReference,
                        seed: int) -> dict[str, float]:
    """{palette colour: median Delta-E of solid images asked for exactly that colour}."""
    conditions = reference.colour_conditions
    seeds = np.arange(len(conditions), dtype=np.int64) + 9_000_000 + seed
    colours = estimate_body_colour(to_uint8(_at_32(sample(model, conditions, seeds))),
                                   reference.background)
    errors = delta_e76(colours, conditions[:, reference.layout.colour_slice]).reshape(
        len(COLOUR_NAMES), -1)
    return {name: round(float(np.median(row)), 2)
            for name, row in zip(COLOUR_NAMES, errors, strict=True)}


def class_mean_shapes(shapes: np.ndarray, labels: np.ndarray, n_classes: int) -> np.ndarray:
    """(C, 28, 28) uint8: the mean training shape of each class."""
    return np.stack([np.rint(shapes[labels == c].mean(axis=0)).astype(np.uint8)
                     for c in range(n_classes)])


def _real_diversity(judge: Judge, shapes: np.ndarray, labels: np.ndarray,
                    layout: ConditionLayout, rng: np.random.Generator,
                    background: RGB = DEFAULT_BACKGROUND) -> float:
    """Mean pairwise feature distance among real renders of one condition (new shapes)."""
    distances = []
    for _ in range(DIVERSITY_CONDITIONS // 4):
        category = int(rng.integers(layout.n_categories))
        picks = rng.choice(np.flatnonzero(labels == category), DIVERSITY_SEEDS, replace=False)
        colour = np.repeat(draw_colours(rng, 1, 0.5, 0.08), DIVERSITY_SEEDS, axis=0)
        pattern = np.full(DIVERSITY_SEEDS, int(rng.integers(layout.n_patterns)))
        batch = render_batch(shapes[picks], labels[picks], colour, pattern, layout, rng,
                             background=background)
        distances.append(_pairwise(judge_images(judge, _unit(batch.images)).features))
    return float(np.mean(distances))


def _generated_diversity(model: Generator, judge: Judge, conditions: np.ndarray,
                         seed: int) -> float:
    repeated = np.repeat(conditions, DIVERSITY_SEEDS, axis=0)
    seeds = np.arange(len(repeated), dtype=np.int64) + 7_000_000 + seed
    judged = judge_images(judge, sample(model, repeated, seeds))
    features = judged.features.reshape(len(conditions), DIVERSITY_SEEDS, -1)
    return float(np.mean([_pairwise(f) for f in features]))


def _pairwise(features: np.ndarray) -> float:
    diff = features[:, None, :] - features[None, :, :]
    dist = np.sqrt((diff**2).sum(-1))
    n = len(features)
    return float(dist.sum() / (n * (n - 1)))


def _accuracy(predicted: np.ndarray, truth: np.ndarray) -> float:
    return float((predicted == truth).mean())


def _unit(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] renders -> [0, 1]."""
    return (images + 1.0) * 0.5


def _uint8(images: torch.Tensor) -> np.ndarray:
    """[-1, 1] renders -> (N, R, R, 3) uint8."""
    return to_uint8(_unit(images))


def _at_32(images: torch.Tensor) -> torch.Tensor:
    if images.shape[-1] == 32:
        return images
    return torch.nn.functional.interpolate(images, size=(32, 32), mode="area")
