"""Texture groups: k-means, the silhouette that picks K, margins, ARI, the contact sheet."""

from __future__ import annotations

import numpy as np
import pytest

from pigen.data.catalog.texture import (
    TextureGroups,
    adjusted_rand_index,
    assign_textures,
    group_contact_sheet,
    group_textures,
)
from pigen.data.catalog.texture_groups import GAP, LABEL_WIDTH, TILE, silhouette


def blobs(k: int, per: int, spread: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``k`` tight groups of unit vectors in 16-d around random directions."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, 16))
    truth = np.repeat(np.arange(k), per)
    points = centres[truth] / np.linalg.norm(centres[truth], axis=1, keepdims=True)
    return points + rng.normal(scale=spread, size=points.shape), truth


def test_adjusted_rand_index_known_values() -> None:
    # values from the definition (Hubert & Arabie 1985), as scikit-learn gives them
    assert adjusted_rand_index([0, 0, 1, 1], [0, 0, 1, 1]) == pytest.approx(1.0)
    assert adjusted_rand_index([0, 0, 1, 1], [5, 5, 3, 3]) == pytest.approx(1.0)
    assert adjusted_rand_index([0, 0, 1, 1], [0, 0, 1, 2]) == pytest.approx(4 / 7)
    assert adjusted_rand_index([0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 2, 2]) == pytest.approx(8 / 33)
    assert adjusted_rand_index([0, 0, 0, 0], [0, 1, 2, 3]) == pytest.approx(0.0)
    assert adjusted_rand_index(["a", "b"], ["x", "x"]) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="same items"):
        adjusted_rand_index([0, 1], [0, 1, 2])


def test_silhouette_matches_its_definition() -> None:
    rng = np.random.default_rng(3)
    points = rng.normal(size=(12, 3))
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2])
    distances = np.linalg.norm(points[:, None] - points[None], axis=2)
    expected = []
    for i in range(12):
        same = (labels == labels[i]) & (np.arange(12) != i)
        a = distances[i, same].mean()
        b = min(distances[i, labels == g].mean() for g in set(labels) - {labels[i]})
        expected.append((b - a) / max(a, b))
    assert silhouette(distances, labels) == pytest.approx(np.mean(expected))


def test_group_textures_finds_k_and_the_groups() -> None:
    features, truth = blobs(k=4, per=40, spread=0.08)
    groups = group_textures(features, k_range=(2, 7))
    assert groups.k == 4 and groups.criterion.startswith("silhouette")
    assert set(groups.scores) == {2, 3, 4, 5, 6, 7}
    assert max(groups.scores, key=lambda k: groups.scores[k]) == 4
    assert adjusted_rand_index(truth, groups.labels) == pytest.approx(1.0)
    assert groups.labels.shape == (160,) and set(groups.labels) == {0, 1, 2, 3}
    assert np.all((groups.confidence >= 0) & (groups.confidence <= 1))
    assert groups.centroids is not None and groups.centroids.shape == (4, 16)
    # group 0 is the largest: names stay stable when a run reorders clusters
    assert np.all(np.diff(groups.sizes()) <= 0)


def test_confidence_is_low_between_groups_and_high_at_a_centroid() -> None:
    features, _ = blobs(k=3, per=30, spread=0.05)
    groups = group_textures(features, k=3)
    assert groups.criterion == "given" and groups.scores == {}
    assert groups.centroids is not None
    halfway = (groups.centroids[0] + groups.centroids[1]) / 2
    labels, confidence = assign_textures(np.stack([groups.centroids[2], halfway]), groups)
    assert labels[0] == 2 and confidence[0] > 0.9
    assert confidence[1] < 0.05
    assert np.median(groups.confidence) > 0.5


def test_group_textures_is_deterministic_and_checks_its_input() -> None:
    features, _ = blobs(k=3, per=20, spread=0.3, seed=1)
    first, second = group_textures(features, seed=5), group_textures(features, seed=5)
    assert np.array_equal(first.labels, second.labels) and first.scores == second.scores
    with pytest.raises(ValueError, match="k must be"):
        group_textures(features, k=0)
    with pytest.raises(ValueError, match="k_range"):
        group_textures(features, k_range=(1, 4))
    with pytest.raises(ValueError, match="all-zero"):
        group_textures(np.zeros((5, 3)))
    with pytest.raises(ValueError, match="pass k"):
        group_textures(features[:2])


def test_contact_sheet_has_a_row_per_group_best_items_first() -> None:
    rng = np.random.default_rng(0)
    colours = rng.integers(0, 256, size=(9, 3), dtype=np.uint8)
    images = np.broadcast_to(colours[:, None, None, :], (9, 8, 8, 3)).copy()  # flat tiles
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2])
    confidence = np.array([0.1, 0.9, 0.5, 0.2, 0.3, 0.8, 0.1, 0.6, 0.7])
    groups = TextureGroups(labels, 3, confidence, "given", {})
    sheet = group_contact_sheet(images, groups, names=["stripes", "dots", "plain"], per_group=3)
    step = TILE + GAP
    assert sheet.size == (LABEL_WIDTH + 3 * step, 3 * step)
    pixels = np.asarray(sheet)
    for row, best in enumerate([1, 5, 8]):  # the most confident item of each group
        y, x = row * step + TILE // 2, LABEL_WIDTH + TILE // 2
        assert tuple(pixels[y, x]) == tuple(colours[best])
    # group 2 has two items: the third tile stays blank
    assert tuple(pixels[2 * step + TILE // 2, LABEL_WIDTH + 2 * step + TILE // 2]) == (255,) * 3
    # the label column holds text (dark pixels)
    assert pixels[:, :LABEL_WIDTH].min() < 100
    with pytest.raises(ValueError, match="3 names"):
        group_contact_sheet(images, groups, names=["one"])
    with pytest.raises(ValueError, match="N = 9"):
        group_contact_sheet(images[:4], groups)
