"""The bridge: a user's ALS factor -> their taste over conditions -> sampled condition vectors.

A function of factors and item attributes only (DESIGN.md). Three steps:

1. score every catalog item with the user's factor and turn the scores into
   weights: ``softmax(z / temperature)`` where ``z`` is the scores standardised
   per user (mean 0, std 1 over the eligible items), so one temperature means
   the same sharpness for every user whatever the scale of their factor;
2. aggregate the weights by attribute into a :class:`TasteProfile`: a category
   distribution, a colour *mixture* (components with weights and RGB centres)
   and a pattern distribution;
3. :func:`pigen.recsys.condition_sampling.sample_conditions` draws each
   image's condition from the profile — sampling, not averaging: a 50/50
   red/blue taste gives red images and blue images, never a muddy purple. It
   draws a whole *bundle* (the category, colour and pattern of one kind of
   liked item, :mod:`pigen.recsys.taste_bundles`), so liking red dresses and
   blue sandals does not make blue dresses.

Items whose attribute is missing, or not in the layout, drop out of that part's
aggregate only (an item with no pattern still counts for its category and colour);
a part no weighted item informs falls back to uniform (for colour: to the mix of
all coloured items).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, get_args

import numpy as np
import scipy.sparse as sp

from pigen.data.catalog.palette import COLOUR_NAMES
from pigen.data.conditions import ConditionLayout, ConditionVector
from pigen.data.idmap import IdMap
from pigen.recsys.item_attributes import PALETTE_RGB, ItemAttributes
from pigen.recsys.taste_bundles import DEFAULT_MAX_BUNDLES, bundle_mixture

if TYPE_CHECKING:
    from pigen.recsys.als import ALSRecommender

#: Softmax temperature in standard deviations of a user's scores. Chosen on the
#: validation shoppers of bench/taste_recovery.py (0.5-1.0 all did about as well):
#: lower puts all weight on a few top items (noisy), higher drifts to the catalog mix.
DEFAULT_TEMPERATURE = 0.7
#: Share of a profile taken from the user's own liked items (see taste_profiles).
#: Chosen on the validation shoppers of bench/taste_recovery.py: gap closed rises
#: from 0.46 (0) to 0.48 (0.8) and 0.49 (1, the own items alone). Not 1: the
#: model's share is what reaches kinds of item the shopper has not rated yet.
DEFAULT_OWN_WEIGHT = 0.8
#: Rated items named as the reason for a profile.
DEFAULT_CONTRIBUTORS = 5
ColourComponents = Literal["palette", "items"]
COLOUR_COMPONENT_KINDS: tuple[str, ...] = get_args(ColourComponents)
# Users scored per block in taste_profiles: a (block, items) float64 array each.
_BLOCK = 1024


# -- taste profiles -----------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class TasteProfile:
    """One user's taste over conditions: what :func:`sample_conditions` draws from.

    ``contributing_items`` explains the profile: the user's own *rated* items
    with the highest scores (weights are their share of the profile), when the
    ratings were given to :func:`taste_profiles`; otherwise the items with the
    largest weight in the mixture (``contributors_rated`` says which).
    """

    layout: ConditionLayout
    category: np.ndarray  # (C,) distribution
    colour_weights: np.ndarray  # (M,) mixture weights, positive, sum 1
    colour_rgb: np.ndarray  # (M, 3) component centres, RGB in [0, 1]
    colour_names: tuple[str, ...]  # (M,) nearest palette name of each component
    pattern: np.ndarray  # (P,) distribution
    contributing_items: tuple[tuple[str, float], ...]  # (item id, weight), best first
    contributors_rated: bool
    # Whole liked items: (N,) weights summing to 1 (or N = 0: draw the parts apart),
    # (N, 3) codes (category, colour name in COLOUR_NAMES, pattern; -1 = draw that
    # part from its own distribution) and (N, 3) colour centres (NaN when unknown).
    bundle_weights: np.ndarray = field(default_factory=lambda: np.zeros(0))
    bundle_parts: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), np.int64))
    bundle_rgb: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))

    def __post_init__(self) -> None:
        n = len(self.bundle_weights)
        if self.bundle_parts.shape != (n, 3) or self.bundle_rgb.shape != (n, 3):
            raise ValueError("bundles need (N,) weights, (N, 3) parts and (N, 3) colours")
        if n and ((self.bundle_weights <= 0).any()
                  or abs(self.bundle_weights.sum() - 1) > 1e-6):
            raise ValueError("bundle weights must be positive and sum to 1")
        m = len(self.colour_weights)
        if m < 1 or self.colour_rgb.shape != (m, 3) or len(self.colour_names) != m:
            raise ValueError("colour mixture needs M >= 1 weights, (M, 3) centres and M names")
        if (self.colour_weights <= 0).any() or abs(self.colour_weights.sum() - 1) > 1e-6:
            raise ValueError("colour mixture weights must be positive and sum to 1")
        # The vector class checks the parts' sizes and sums; reuse it (once: the parts
        # are shared by every component), then range-check all centres in one go.
        ConditionVector(self.layout, self.category, self.colour_rgb[0], self.pattern)
        if not np.all((self.colour_rgb >= 0) & (self.colour_rgb <= 1)):
            raise ValueError("colour must be RGB in [0, 1] for every mixture component")

    @property
    def top_category(self) -> str:
        return self.layout.categories[int(np.argmax(self.category))]

    @property
    def top_pattern(self) -> str:
        return self.layout.patterns[int(np.argmax(self.pattern))]

    @property
    def top_colour(self) -> str:
        """The palette name carrying the most mixture weight."""
        by_name = self.colour_by_name()
        return max(by_name, key=by_name.__getitem__)

    def colour_by_name(self) -> dict[str, float]:
        """Mixture weight per palette name, heaviest first (readable; sampling uses RGB)."""
        totals: dict[str, float] = {}
        for name, weight in zip(self.colour_names, self.colour_weights.tolist(), strict=True):
            totals[name] = totals.get(name, 0.0) + weight
        return dict(sorted(totals.items(), key=lambda kv: -kv[1]))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, for explanations and image provenance records."""
        return {
            "layout": self.layout.to_dict(),
            "category": dict(zip(self.layout.categories, self.category.tolist(), strict=True)),
            "colours": [
                {"name": n, "rgb": rgb, "weight": w}
                for n, rgb, w in zip(
                    self.colour_names,
                    self.colour_rgb.tolist(),
                    self.colour_weights.tolist(),
                    strict=True,
                )
            ],
            "pattern": dict(zip(self.layout.patterns, self.pattern.tolist(), strict=True)),
            "contributing_items": [list(pair) for pair in self.contributing_items],
            "contributors_rated": self.contributors_rated,
            "bundles": [
                {"category": self.layout.categories[c] if c >= 0 else None,
                 "colour": COLOUR_NAMES[k] if k >= 0 else None,
                 "rgb": None if k < 0 else rgb,
                 "pattern": self.layout.patterns[p] if p >= 0 else None,
                 "weight": w}
                for (c, k, p), rgb, w in zip(self.bundle_parts.tolist(),
                                             self.bundle_rgb.tolist(),
                                             self.bundle_weights.tolist(), strict=True)
            ],
        }


@dataclass(frozen=True, eq=False)
class TasteProfiles:
    """Many users' profiles as arrays (row u is user u of the call); ``profile(u)`` views one."""

    layout: ConditionLayout
    items: IdMap
    category: np.ndarray  # (U, C)
    colour_weights: np.ndarray  # (U, M), zeros allowed (dropped in the one-user view)
    colour_rgb: np.ndarray  # (U, M, 3)
    colour_names: np.ndarray  # (U, M) int64 position in COLOUR_NAMES
    pattern: np.ndarray  # (U, P)
    contributor_rows: np.ndarray  # (U, n) int64 item rows, -1 padding
    contributor_weights: np.ndarray  # (U, n) weight of each in the mixture, 0 padding
    contributors_rated: bool
    bundle_weights: np.ndarray  # (U, M) zeros allowed (dropped in the one-user view)
    bundle_parts: np.ndarray  # (U, M, 3) int64 category, colour name, pattern; -1 unknown
    bundle_rgb: np.ndarray  # (U, M, 3) colour centres, NaN unknown

    def __len__(self) -> int:
        return len(self.category)

    def colour_by_name(self) -> np.ndarray:
        """(U, K) mixture weight per palette name (K = len(COLOUR_NAMES))."""
        out = np.zeros((len(self), len(COLOUR_NAMES)))
        rows = np.broadcast_to(np.arange(len(self))[:, None], self.colour_names.shape)
        np.add.at(out, (rows, self.colour_names), self.colour_weights)
        return out

    def profile(self, user: int) -> TasteProfile:
        """The readable one-user view of row ``user``."""
        keep = self.colour_weights[user] > 0
        weights = self.colour_weights[user][keep]
        contributors = tuple(
            (self.items.id_of(int(row)), float(w))
            for row, w in zip(
                self.contributor_rows[user], self.contributor_weights[user], strict=True
            )
            if row >= 0
        )
        bundles = self.bundle_weights[user] > 0
        return TasteProfile(
            layout=self.layout,
            category=self.category[user].copy(),
            colour_weights=weights / weights.sum(),
            colour_rgb=self.colour_rgb[user][keep].copy(),
            colour_names=tuple(COLOUR_NAMES[k] for k in self.colour_names[user][keep]),
            pattern=self.pattern[user].copy(),
            contributing_items=contributors,
            contributors_rated=self.contributors_rated,
            bundle_weights=self.bundle_weights[user][bundles] / max(
                self.bundle_weights[user][bundles].sum(), 1e-300),
            bundle_parts=self.bundle_parts[user][bundles].copy(),
            bundle_rgb=self.bundle_rgb[user][bundles].copy(),
        )


def taste_profiles(
    user_factors: np.ndarray,
    item_factors: np.ndarray,
    attributes: ItemAttributes,
    *,
    temperature: float = DEFAULT_TEMPERATURE,
    top_k: int | None = None,
    baseline: np.ndarray | None = None,
    exclude: np.ndarray | None = None,
    rated: sp.csr_matrix | None = None,
    n_contributors: int = DEFAULT_CONTRIBUTORS,
    colour_components: ColourComponents = "palette",
    max_colour_components: int = 16,
    max_bundles: int = DEFAULT_MAX_BUNDLES,
    own: sp.csr_matrix | None = None,
    own_weight: float = DEFAULT_OWN_WEIGHT,
) -> TasteProfiles:
    """Taste profiles of many users at once.

    Parameters
    ----------
    user_factors
        (U, F) one factor per user (fitted, folded in or the cold prior).
    item_factors
        (I, F) the same model's item factors, rows aligned with ``attributes``.
    attributes
        The catalog's attributes in the model's item order.
    temperature
        Softmax temperature in standard deviations of each user's scores (> 0).
    top_k
        Keep only each user's ``top_k`` highest-scored items (None: all).
    baseline
        (F,) a reference factor, typically the mean training user factor: scores
        become the user's lift over it, so items every user scores highly (the
        popular ones) stop filling every profile. Leave None for a cold user,
        whose factor already is the population's.
    exclude
        (I,) bool mask or item rows that never get weight (e.g. out of stock).
    rated
        (U, I) the users' own interactions; when given, contributors are the
        user's rated items with the highest scores.
    n_contributors
        Items named per user as the profile's reason.
    colour_components
        ``"palette"``: one component per palette name, centred on the weighted
        mean colour of that name's items (readable, M = 13); ``"items"``: the
        ``max_colour_components`` heaviest items' own colours (exact for a
        catalog of continuous colours).
    max_bundles
        Whole-item bundles kept per user (the heaviest).
    own
        (U, I) what each user said they like, >= 0 (e.g. the model's confidence
        of their interactions, dislikes as 0: :func:`liked_weights`). Blended in
        with ``own_weight``; None: the model's scores alone.
    own_weight
        Share of each profile taken from the user's own liked items rather than
        the model's scores, in [0, 1]. The model generalises from few ratings;
        the user's own items are exact about what they chose; a blend beats
        either on held-out shoppers (bench/taste_recovery.py). Users with no
        liked item keep the model's weights.

    Returns
    -------
    TasteProfiles
        Row u is user u.
    """
    user_factors = np.atleast_2d(np.asarray(user_factors, dtype=np.float64))  # (U, F)
    item_factors = np.asarray(item_factors, dtype=np.float64)  # (I, F)
    n_items = len(attributes)
    if item_factors.ndim != 2 or item_factors.shape[0] != n_items:
        raise ValueError(f"item_factors must be ({n_items}, F), got {item_factors.shape}")
    if user_factors.ndim != 2 or user_factors.shape[1] != item_factors.shape[1]:
        raise ValueError(
            f"user_factors must be (U, {item_factors.shape[1]}), got {user_factors.shape}"
        )
    if baseline is not None:
        baseline = np.asarray(baseline, dtype=np.float64)
        if baseline.shape != (item_factors.shape[1],):
            raise ValueError(f"baseline must be ({item_factors.shape[1]},), got {baseline.shape}")
        user_factors = user_factors - baseline
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if top_k is not None and top_k < 1:
        raise ValueError(f"top_k must be >= 1 or None, got {top_k}")
    if colour_components not in COLOUR_COMPONENT_KINDS:
        raise ValueError(f"colour_components must be one of {COLOUR_COMPONENT_KINDS}")
    if n_contributors < 0 or max_colour_components < 1:
        raise ValueError("n_contributors must be >= 0 and max_colour_components >= 1")
    eligible = _eligible(exclude, n_items)  # (I,) bool
    if not eligible.any():
        raise ValueError("exclude leaves no item to draw from")
    if rated is not None:
        rated = sp.csr_matrix(rated)
        if rated.shape != (len(user_factors), n_items):
            raise ValueError(f"rated must be (users, items), got {rated.shape}")
    if not 0.0 <= own_weight <= 1.0:
        raise ValueError(f"own_weight must be in [0, 1], got {own_weight}")
    if own is not None:
        own = sp.csr_matrix(own, dtype=np.float64)
        if own.shape != (len(user_factors), n_items):
            raise ValueError(f"own must be (users, items), got {own.shape}")
        if own.nnz and (own.data < 0).any():
            raise ValueError("own must be >= 0 (dislikes as 0)")

    parts = []
    for start in range(0, len(user_factors), _BLOCK):
        block = slice(start, start + _BLOCK)
        scores = user_factors[block] @ item_factors.T  # (B, I)
        weights = _weights(scores, eligible, temperature, top_k)  # (B, I), rows sum to 1
        if own is not None and own_weight > 0:
            weights = _blend_own(weights, own[block].toarray() * eligible, own_weight)
        mine = None if rated is None else rated[block].toarray() != 0
        parts.append(
            (
                _distribution(weights, attributes.category, attributes.layout.n_categories),
                *_colour_mixture(weights, attributes, colour_components, max_colour_components),
                _distribution(weights, attributes.pattern, attributes.layout.n_patterns),
                *_contributors(scores, weights, mine, n_contributors),
                *bundle_mixture(weights, attributes, max_bundles),
            )
        )
    (category, colour_weights, colour_rgb, colour_names, pattern, rows, row_weights,
     bundle_weights, bundle_parts, bundle_rgb) = (
        np.concatenate(p) for p in zip(*parts, strict=True)
    )
    return TasteProfiles(
        layout=attributes.layout,
        items=attributes.items,
        category=category,
        colour_weights=colour_weights,
        colour_rgb=colour_rgb,
        colour_names=colour_names,
        pattern=pattern,
        contributor_rows=rows,
        contributor_weights=row_weights,
        contributors_rated=rated is not None,
        bundle_weights=bundle_weights,
        bundle_parts=bundle_parts,
        bundle_rgb=bundle_rgb,
    )


def taste_profile(
    user_factor: np.ndarray,
    item_factors: np.ndarray,
    attributes: ItemAttributes,
    *,
    rated: sp.csr_matrix | np.ndarray | None = None,
    **options: Any,
) -> TasteProfile:
    """One user's profile from their (F,) factor; ``rated`` is their (1, I) row or item rows.

    Other keyword arguments are those of :func:`taste_profiles`.
    """
    factor = np.asarray(user_factor)
    if factor.ndim != 1:
        raise ValueError(f"user_factor must be (F,), got {factor.shape}")
    if rated is not None and not sp.issparse(rated):
        rows = np.asarray(rated, dtype=np.int64)
        rated = sp.csr_matrix(
            (np.ones(len(rows)), (np.zeros(len(rows), dtype=np.int64), rows)),
            shape=(1, len(attributes)),
        )
    return taste_profiles(factor[None], item_factors, attributes, rated=rated, **options).profile(0)


def liked_weights(model: ALSRecommender, rows: sp.csr_matrix) -> sp.csr_matrix:
    """(U, I) the users' interactions as ``model`` weighs them, dislikes as 0: ``own``."""
    return sp.csr_matrix(model.weighted(rows).maximum(0))


def population_profile(
    item_weights: np.ndarray,
    attributes: ItemAttributes,
    *,
    n_contributors: int = DEFAULT_CONTRIBUTORS,
    colour_components: ColourComponents = "palette",
    max_colour_components: int = 16,
) -> TasteProfile:
    """The attribute mix of the whole population, e.g. weights = interactions per item.

    What a user with no usable ratings gets: the cold-start factor ranks items
    by a popularity seen through the model, and a softmax of those scores
    collapses onto the few most popular items; the mix itself stays as broad as
    what people actually consume.
    """
    weights = np.asarray(item_weights, dtype=np.float64)
    if weights.shape != (len(attributes),) or (weights < 0).any() or not weights.sum() > 0:
        raise ValueError(f"item_weights must be ({len(attributes)},), >= 0, with a positive sum")
    weights = (weights / weights.sum())[None]  # (1, I)
    rows, row_weights = _contributors(weights, weights, None, n_contributors)
    colour_weights, colour_rgb, colour_names = _colour_mixture(
        weights, attributes, colour_components, max_colour_components)
    bundle_weights, bundle_parts, bundle_rgb = bundle_mixture(weights, attributes)
    return TasteProfiles(
        layout=attributes.layout, items=attributes.items,
        category=_distribution(weights, attributes.category, attributes.layout.n_categories),
        colour_weights=colour_weights, colour_rgb=colour_rgb, colour_names=colour_names,
        pattern=_distribution(weights, attributes.pattern, attributes.layout.n_patterns),
        contributor_rows=rows, contributor_weights=row_weights, contributors_rated=False,
        bundle_weights=bundle_weights, bundle_parts=bundle_parts, bundle_rgb=bundle_rgb,
    ).profile(0)


def _eligible(exclude: np.ndarray | None, n_items: int) -> np.ndarray:
    eligible = np.ones(n_items, dtype=bool)
    if exclude is None:
        return eligible
    exclude = np.asarray(exclude)
    if exclude.dtype == bool:
        if exclude.shape != (n_items,):
            raise ValueError(f"an exclude mask must have shape ({n_items},)")
        return ~exclude
    eligible[exclude.astype(np.int64)] = False
    return eligible


def _weights(
    scores: np.ndarray, eligible: np.ndarray, temperature: float, top_k: int | None
) -> np.ndarray:
    """(B, I) softmax weights of standardised scores; ineligible items get 0."""
    n = int(eligible.sum())
    mean = scores[:, eligible].mean(axis=1, keepdims=True)  # (B, 1)
    std = scores[:, eligible].std(axis=1, keepdims=True)  # (B, 1)
    # A constant score (zero factor) carries no taste: z = 0, i.e. uniform weights.
    z = (scores - mean) / np.where(std > 0, std, 1.0)
    logits = np.where(eligible, z / temperature, -np.inf)  # (B, I)
    if top_k is not None and top_k < n:
        # The k-th largest eligible logit per row; ties at the cut all stay in.
        kth = -np.partition(-logits, top_k - 1, axis=1)[:, top_k - 1 : top_k]  # (B, 1)
        logits = np.where(logits >= kth, logits, -np.inf)
    logits -= logits.max(axis=1, keepdims=True)  # stable: the max becomes exp(0) = 1
    weights = np.exp(logits)
    return weights / weights.sum(axis=1, keepdims=True)


def _blend_own(weights: np.ndarray, own: np.ndarray, share: float) -> np.ndarray:
    """(B, I) ``(1 - share) * weights + share * own`` (own normalised per row), rows with
    no liked item unchanged."""
    total = own.sum(axis=1, keepdims=True)  # (B, 1)
    mixed = (1.0 - share) * weights + share * own / np.where(total > 0, total, 1.0)
    return np.where(total > 0, mixed, weights)


def _distribution(weights: np.ndarray, codes: np.ndarray, width: int) -> np.ndarray:
    """(B, width) weight per attribute value over items that have one; uniform if none do."""
    known = codes >= 0
    onehot = np.zeros((len(codes), width))  # (I, width)
    onehot[np.flatnonzero(known), codes[known]] = 1.0
    mass = weights @ onehot  # (B, width)
    total = mass.sum(axis=1, keepdims=True)
    return np.where(total > 0, mass / np.where(total > 0, total, 1.0), 1.0 / width)


def _colour_mixture(
    weights: np.ndarray, attributes: ItemAttributes, kind: str, max_components: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(B, M) weights, (B, M, 3) centres and (B, M) palette codes of each user's colours."""
    known = attributes.colour_name >= 0  # (I,)
    rgb = np.nan_to_num(attributes.colour)  # (I, 3)
    n_users, k = len(weights), len(COLOUR_NAMES)
    if not known.any():  # no colour anywhere: the plain palette, evenly
        shape = (n_users, k)
        return (
            np.full(shape, 1.0 / k),
            np.broadcast_to(PALETTE_RGB, (*shape, 3)).copy(),
            np.broadcast_to(np.arange(k), shape).copy(),
        )
    w = weights * known  # (B, I) weight of items with a colour
    total = w.sum(axis=1, keepdims=True)  # (B, 1)
    # No weight on any coloured item: fall back to the catalog's colour mix.
    w = np.where(total > 0, w / np.where(total > 0, total, 1.0), known / known.sum())
    if kind == "items":
        m = min(max_components, int(known.sum()))
        top = np.argpartition(-w, m - 1, axis=1)[:, :m]  # (B, m) heaviest items
        top_w = np.take_along_axis(w, top, axis=1)
        return top_w / top_w.sum(axis=1, keepdims=True), rgb[top], attributes.colour_name[top]
    names = np.where(known, attributes.colour_name, 0)
    onehot = np.zeros((len(names), k))  # (I, K)
    onehot[np.flatnonzero(known), names[known]] = 1.0
    mass = w @ onehot  # (B, K)
    sums = (w @ (onehot[:, :, None] * rgb[:, None, :]).reshape(len(names), k * 3)).reshape(
        n_users, k, 3
    )  # (B, K, 3) weighted colour sums per name
    centres = np.where(
        mass[:, :, None] > 0, sums / np.where(mass > 0, mass, 1.0)[:, :, None], PALETTE_RGB
    )
    return mass, np.clip(centres, 0.0, 1.0), np.broadcast_to(np.arange(k), mass.shape).copy()


def _contributors(
    scores: np.ndarray, weights: np.ndarray, mine: np.ndarray | None, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """(B, n) item rows (-1 padding) and their mixture weights, best first."""
    n_users, n_items = scores.shape
    n = min(n, n_items)
    if n == 0:
        return np.zeros((n_users, 0), dtype=np.int64), np.zeros((n_users, 0))
    # Rated items rank by score (the same order as weight, but defined outside top_k).
    key = weights if mine is None else np.where(mine, scores, -np.inf)
    top = np.argpartition(-key, n - 1, axis=1)[:, :n]  # (B, n) unordered
    top = np.take_along_axis(top, np.argsort(-np.take_along_axis(key, top, axis=1), axis=1), 1)
    valid = np.isfinite(np.take_along_axis(key, top, axis=1))
    if mine is None:
        valid &= np.take_along_axis(weights, top, axis=1) > 0
    rows = np.where(valid, top, -1)
    return rows, np.where(valid, np.take_along_axis(weights, top, axis=1), 0.0)
