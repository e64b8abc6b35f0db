"""Texture features -> K groups a merchandiser can look at and name.

k-means (k-means++ seeding, several restarts, numpy: the project carries no
scikit-learn) on L2-normalised features, so squared Euclidean distance is
``2 - 2 cos``: spherical k-means in all but name. Unless the caller fixes K, it
is the K in ``k_range`` with the highest mean *silhouette* (cosine distance): how
much closer each item is to its own group than to the next one, in [-1, 1]. It
needs no labels and no reference distribution, and it does not grow with K the way
within-group scatter shrinks. On more than :data:`SILHOUETTE_SAMPLE` items it is
computed on a fixed random sample (it costs N^2).

Each item's confidence is the margin between its nearest and second-nearest
centroid, ``(d2 - d1) / (d2 + d1)`` in [0, 1]: 0 halfway between two groups, 1 on
its own centroid.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw

SILHOUETTE_SAMPLE = 2_000  # items the silhouette is computed on, at most
RESTARTS = 8  # k-means runs per K; the lowest inertia wins
MAX_ITERATIONS = 100
CRITERION = "silhouette (cosine), highest wins"

LABEL_WIDTH = 120  # pixels for the group name at the left of each row
GAP = 2  # white pixels between tiles
TILE = 64  # tile side in the contact sheet


@dataclass(frozen=True)
class TextureGroups:
    """Texture groups of N items, and how K was chosen."""

    labels: np.ndarray  # (N,) int in [0, k)
    k: int
    confidence: np.ndarray  # (N,) float in [0, 1]
    criterion: str  # how K was chosen ("given" when the caller fixed it)
    scores: dict[int, float] = field(default_factory=dict)  # criterion value for each K tried
    centroids: np.ndarray | None = None  # (k, F) unit vectors: assign new items with them

    def sizes(self) -> np.ndarray:
        """(k,) items per group."""
        return np.bincount(self.labels, minlength=self.k)


def group_textures(features: np.ndarray, k: int | None = None,
                   k_range: tuple[int, int] = (2, 8), seed: int = 0) -> TextureGroups:
    """Cluster (N, F) texture features; K is ``k`` or the silhouette's best in ``k_range``.

    ``k_range`` is inclusive at both ends. Rows are L2-normalised here (again), so
    raw features work too. Deterministic for a given seed.
    """
    points = _unit_rows(features)
    count = len(points)
    rng = np.random.default_rng(seed)
    if k is not None:
        if not 1 <= k <= count:
            raise ValueError(f"k must be in [1, {count}] for {count} items, got {k}")
        labels, centroids = kmeans(points, k, rng)
        return _groups(points, labels, centroids, "given", {})
    low, high = k_range
    if not 2 <= low <= high:
        raise ValueError(f"k_range must be (low, high) with 2 <= low <= high, got {k_range}")
    if count < low + 1:
        raise ValueError(f"{count} items cannot be split into {low} or more groups "
                         "with a silhouette to choose by; pass k")
    sample = (rng.choice(count, SILHOUETTE_SAMPLE, replace=False)
              if count > SILHOUETTE_SAMPLE else np.arange(count))
    distances = _cosine_distances(points[sample])  # (S, S)
    best: tuple[float, int, np.ndarray, np.ndarray] | None = None
    scores: dict[int, float] = {}
    for candidate in range(low, min(high, count - 1) + 1):
        labels, centroids = kmeans(points, candidate, rng)
        scores[candidate] = round(silhouette(distances, labels[sample]), 4)
        if best is None or scores[candidate] > best[0]:
            best = (scores[candidate], candidate, labels, centroids)
    assert best is not None  # the range holds at least one K
    return _groups(points, best[2], best[3], CRITERION, scores)


def kmeans(points: np.ndarray, k: int, rng: np.random.Generator,
           restarts: int = RESTARTS) -> tuple[np.ndarray, np.ndarray]:
    """Lloyd's k-means with k-means++ seeding; the best of ``restarts`` runs by inertia.

    Returns (N,) labels and (k, F) centroids.
    """
    best: tuple[float, np.ndarray, np.ndarray] | None = None
    for _ in range(restarts):
        centroids = _kmeans_plus_plus(points, k, rng)
        labels = np.zeros(len(points), dtype=np.int64)
        for iteration in range(MAX_ITERATIONS):
            squared = _squared_distances(points, centroids)  # (N, k)
            new_labels = squared.argmin(axis=1)
            if iteration and np.array_equal(new_labels, labels):
                break
            labels = new_labels
            for group in range(k):
                members = points[labels == group]
                # an emptied group restarts at the point farthest from its centroid
                centroids[group] = (members.mean(axis=0) if len(members)
                                    else points[squared.min(axis=1).argmax()])
        inertia = float(_squared_distances(points, centroids).min(axis=1).sum())
        if best is None or inertia < best[0]:
            best = (inertia, labels, centroids.copy())
    assert best is not None
    return best[1], best[2]


def silhouette(distances: np.ndarray, labels: np.ndarray) -> float:
    """Mean silhouette of a precomputed (S, S) distance matrix; items alone in their
    group count 0 (Rousseeuw's convention). A single group has no silhouette: -1."""
    groups = np.unique(labels)
    if len(groups) < 2:
        return -1.0
    one_hot = labels[:, None] == groups[None, :]  # (S, G)
    sizes = one_hot.sum(axis=0)  # (G,)
    sums = distances @ one_hot  # (S, G): total distance to each group
    own = np.searchsorted(groups, labels)
    own_size = sizes[own]
    inside = sums[np.arange(len(labels)), own] / np.maximum(own_size - 1, 1)
    outside = sums / sizes[None, :]
    outside[np.arange(len(labels)), own] = np.inf
    nearest = outside.min(axis=1)
    values = (nearest - inside) / np.maximum(np.maximum(nearest, inside), 1e-12)
    values[own_size == 1] = 0.0
    return float(values.mean())


def adjusted_rand_index(truth: Sequence[object] | np.ndarray,
                        predicted: Sequence[object] | np.ndarray) -> float:
    """Hubert & Arabie's adjusted Rand index of two labelings: 1 identical, ~0 chance."""
    truth, predicted = np.asarray(truth), np.asarray(predicted)
    if truth.shape != predicted.shape or truth.ndim != 1:
        raise ValueError(f"need two labelings of the same items, got {truth.shape} "
                         f"and {predicted.shape}")
    _, rows = np.unique(truth, return_inverse=True)
    _, cols = np.unique(predicted, return_inverse=True)
    table = np.zeros((rows.max() + 1, cols.max() + 1), dtype=np.int64)
    np.add.at(table, (rows, cols), 1)

    def pairs(n: np.ndarray) -> float:
        return float((n * (n - 1) // 2).sum())

    total = pairs(np.array([len(truth)]))
    index, row_pairs, col_pairs = pairs(table), pairs(table.sum(1)), pairs(table.sum(0))
    expected = row_pairs * col_pairs / total if total else 0.0
    maximum = (row_pairs + col_pairs) / 2
    if maximum == expected:  # both labelings trivial (one group, or all singletons)
        return 1.0
    return (index - expected) / (maximum - expected)


def assign_textures(features: np.ndarray, groups: TextureGroups) -> tuple[np.ndarray, np.ndarray]:
    """Labels and confidences of new items against ``groups``' centroids."""
    if groups.centroids is None:
        raise ValueError("these groups carry no centroids to assign new items with")
    points = _unit_rows(features)
    return _margin_labels(points, groups.centroids)


def group_contact_sheet(images: np.ndarray, groups: TextureGroups,
                        names: Sequence[str] | None = None, per_group: int = 16
                        ) -> Image.Image:
    """One labelled row per group: its ``per_group`` most confident items, best first.

    ``images`` are (N, R, R, 3), float in [0, 1] or uint8; ``names`` label the rows
    (default ``texture-1``, ``texture-2``, ...). Each label also gives the group's size.
    """
    pixels = np.asarray(images)
    if pixels.ndim != 4 or pixels.shape[3] != 3 or len(pixels) != len(groups.labels):
        raise ValueError(f"images must be (N, R, R, 3) with N = {len(groups.labels)}, "
                         f"got {pixels.shape}")
    if names is not None and len(names) != groups.k:
        raise ValueError(f"need {groups.k} names, one per group, got {len(names)}")
    if per_group < 1:
        raise ValueError(f"per_group must be at least 1, got {per_group}")
    if pixels.dtype != np.uint8:
        pixels = np.clip(np.rint(pixels.astype(np.float32) * 255), 0, 255).astype(np.uint8)
    labels = names if names is not None else [f"texture-{g + 1}" for g in range(groups.k)]
    step = TILE + GAP
    sheet = Image.new("RGB", (LABEL_WIDTH + per_group * step, groups.k * step), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    sizes = groups.sizes()
    for group in range(groups.k):
        top = group * step
        draw.text((4, top + TILE // 2 - 12), str(labels[group])[:18], fill=(0, 0, 0))
        draw.text((4, top + TILE // 2 + 2), f"{sizes[group]} items", fill=(90, 90, 90))
        members = np.flatnonzero(groups.labels == group)
        chosen = members[np.argsort(-groups.confidence[members], kind="stable")][:per_group]
        for column, item in enumerate(chosen):
            tile = Image.fromarray(pixels[item]).resize((TILE, TILE), Image.Resampling.NEAREST)
            sheet.paste(tile, (LABEL_WIDTH + column * step, top))
    return sheet


def _groups(points: np.ndarray, labels: np.ndarray, centroids: np.ndarray, criterion: str,
            scores: dict[int, float]) -> TextureGroups:
    """Relabel groups largest first (stable names across runs), with margins."""
    k = len(centroids)
    order = np.argsort(-np.bincount(labels, minlength=k), kind="stable")
    centroids = centroids[order]
    labels, confidence = _margin_labels(points, centroids)
    return TextureGroups(labels, k, confidence, criterion, scores, centroids)


def _margin_labels(points: np.ndarray, centroids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    distances = np.sqrt(_squared_distances(points, centroids))  # (N, k)
    labels = distances.argmin(axis=1)
    if distances.shape[1] == 1:
        return labels, np.ones(len(points))
    nearest2 = np.sort(distances, axis=1)[:, :2]
    margin = (nearest2[:, 1] - nearest2[:, 0]) / np.maximum(nearest2.sum(axis=1), 1e-12)
    return labels, np.clip(margin, 0.0, 1.0)


def _kmeans_plus_plus(points: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    centroids = np.empty((k, points.shape[1]), dtype=points.dtype)
    centroids[0] = points[rng.integers(len(points))]
    closest = _squared_distances(points, centroids[:1])[:, 0]
    for group in range(1, k):
        total = closest.sum()
        chosen = (rng.choice(len(points), p=closest / total) if total > 0
                  else rng.integers(len(points)))
        centroids[group] = points[chosen]
        closest = np.minimum(closest, _squared_distances(points, centroids[group:group + 1])[:, 0])
    return centroids


def _squared_distances(points: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """(N, k) squared Euclidean distances, never negative."""
    squared = ((points ** 2).sum(1)[:, None] - 2 * points @ centroids.T
               + (centroids ** 2).sum(1)[None, :])
    return np.maximum(squared, 0.0)


def _cosine_distances(points: np.ndarray) -> np.ndarray:
    return np.maximum(1.0 - points @ points.T, 0.0)


def _unit_rows(features: np.ndarray) -> np.ndarray:
    points = np.asarray(features, dtype=np.float64)
    if points.ndim != 2 or len(points) == 0:
        raise ValueError(f"features must be (N, F) with N >= 1, got {points.shape}")
    if not np.isfinite(points).all():
        raise ValueError("features must be finite")
    norms = np.linalg.norm(points, axis=1, keepdims=True)
    if (norms == 0).any():
        raise ValueError("features hold an all-zero row, which has no direction")
    return points / norms


__all__ = ["CRITERION", "TextureGroups", "adjusted_rand_index", "assign_textures",
           "group_contact_sheet", "group_textures", "kmeans", "silhouette"]
