"""Taste as whole liked items: (category, colour, pattern) bundles weighted by taste.

Sampling category, colour and pattern independently turns a shopper who likes
red dresses and blue sandals into blue dresses now and then. A bundle keeps
the parts of one kind of item together: the taste weight of every item is
summed per distinct (category, colour name, pattern), and an image draws one
bundle. Items with no attribute at all (ratings-only items) form no bundle; an
item with some parts unknown forms a bundle whose unknown parts are drawn from
their own distribution.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from pigen.recsys.item_attributes import ItemAttributes

#: Bundles kept per user (the heaviest); the tail's weight is spread over the rest.
DEFAULT_MAX_BUNDLES = 256


def item_bundles(attributes: ItemAttributes) -> tuple[np.ndarray, np.ndarray]:
    """``(parts, bundle_of_item)``: (N, 3) distinct (category, colour name, pattern) codes
    (-1 unknown) and (I,) each item's bundle row, -1 for items with no attribute at all."""
    keys = np.stack([attributes.category, attributes.colour_name, attributes.pattern], axis=1)
    described = (keys >= 0).any(axis=1)  # (I,)
    bundle_of_item = np.full(len(keys), -1, dtype=np.int64)
    if not described.any():
        return np.zeros((0, 3), dtype=np.int64), bundle_of_item
    parts, inverse = np.unique(keys[described], axis=0, return_inverse=True)
    bundle_of_item[described] = inverse.ravel()
    return parts.astype(np.int64), bundle_of_item


def bundle_mixture(
    weights: np.ndarray, attributes: ItemAttributes, max_bundles: int = DEFAULT_MAX_BUNDLES
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each user's heaviest bundles: (B, M) weights, (B, M, 3) part codes, (B, M, 3) RGB.

    ``weights`` is (B, I) taste weight per item. A bundle's colour centre is the
    weighted mean RGB of its items (NaN when its colour is unknown). Rows sum to
    1, or are all 0 when no weighted item has an attribute (then the sampler
    draws the parts apart).
    """
    if max_bundles < 1:
        raise ValueError(f"max_bundles must be >= 1, got {max_bundles}")
    parts, bundle_of_item = item_bundles(attributes)
    n_users = len(weights)
    m = min(max_bundles, len(parts))
    if m == 0:
        return (np.zeros((n_users, 0)), np.zeros((n_users, 0, 3), dtype=np.int64),
                np.zeros((n_users, 0, 3)))
    member = np.flatnonzero(bundle_of_item >= 0)
    onehot = sp.csr_matrix(
        (np.ones(len(member)), (member, bundle_of_item[member])),
        shape=(len(bundle_of_item), len(parts)),
    )  # (I, N)
    mass = np.asarray(weights @ onehot)  # (B, N)
    rgb = np.nan_to_num(attributes.colour)  # (I, 3)
    sums = np.stack([np.asarray(weights @ onehot.multiply(rgb[:, [c]]).tocsr())
                     for c in range(3)], axis=2)  # (B, N, 3)
    top = np.argpartition(-mass, m - 1, axis=1)[:, :m]  # (B, m) heaviest bundles
    top_mass = np.take_along_axis(mass, top, axis=1)
    total = top_mass.sum(axis=1, keepdims=True)
    top_weights = np.where(total > 0, top_mass / np.where(total > 0, total, 1.0), 0.0)
    top_sums = np.take_along_axis(sums, top[:, :, None], axis=1)  # (B, m, 3)
    top_parts = parts[top]  # (B, m, 3)
    with np.errstate(invalid="ignore", divide="ignore"):
        centres = np.clip(top_sums / top_mass[:, :, None], 0.0, 1.0)
    centres[top_parts[:, :, 1] < 0] = np.nan  # colour unknown: drawn from the mixture
    return top_weights, top_parts, centres
