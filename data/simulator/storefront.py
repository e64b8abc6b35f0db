"""The storefront: who is shown what, how they rate it and when (model in the package docstring).

Everything is dense and vectorised over a block of shoppers x all items; a block
of 500 shoppers x 2,000 items is ~8 MB per float64 array, so memory stays flat
whatever the number of shoppers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pigen.data.simulator.config import SimulatorConfig
from pigen.data.simulator.tastes import Tastes, Vocab, draw_tastes, shopper_ids

# Shoppers per vectorised block. Part of the random stream's layout: changing it
# changes the draws, so it is a constant rather than a knob.
_BLOCK = 500
RATING_COLUMNS = ("user_id", "item_id", "rating", "timestamp", "kind")


@dataclass(frozen=True, eq=False)
class SimulationResult:
    """What one simulation produced."""

    ratings: pd.DataFrame  # RATING_COLUMNS, sorted by user_id then timestamp
    tastes: Tastes  # the hidden truth; keep it out of anything that trains
    config: SimulatorConfig

    @property
    def vocab(self) -> Vocab:
        return self.tastes.vocab


@dataclass(frozen=True, eq=False)
class TasteTables:
    """Each shopper's score for each vocabulary entry; affinity sums three gathers of these."""

    category: np.ndarray  # (S, C)
    colour: np.ndarray  # (S, K)
    pattern: np.ndarray  # (S, P)

    def affinity(self, rows: slice, item_codes: tuple[np.ndarray, ...]) -> np.ndarray:
        """(len(rows), I) affinity of the shoppers in ``rows`` for every item."""
        category, colour, pattern = item_codes
        return (
            self.category[rows][:, category]
            + self.colour[rows][:, colour]
            + self.pattern[rows][:, pattern]
        )


def taste_tables(tastes: Tastes, config: SimulatorConfig) -> TasteTables:
    """Score tables: weighted log-ratio to uniform for category and pattern, and the
    colour weight relative to the shopper's top colour (top colour = full ``colour_weight``).
    """
    floor = config.taste_floor

    def log_ratio(p: np.ndarray) -> np.ndarray:
        width = p.shape[1]
        # Mixing in a little uniform keeps never-drawn categories finite.
        return np.log(width * ((1.0 - floor) * p + floor / width))

    colour_score = tastes.colour / tastes.colour.max(axis=1, keepdims=True)
    return TasteTables(
        category=config.category_weight * log_ratio(tastes.category),
        colour=config.colour_weight * colour_score,
        pattern=config.pattern_weight * log_ratio(tastes.pattern),
    )


def _log_softmax(x: np.ndarray) -> np.ndarray:
    shifted = x - x.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def _activity(config: SimulatorConfig, n_items: int, rng: np.random.Generator) -> np.ndarray:
    """(S,) ratings per shopper: log-normal, clipped, rescaled so the mean hits the target."""
    cap = min(config.max_ratings, n_items)
    low = min(config.min_ratings, cap)
    sigma = config.activity_sigma
    raw = rng.lognormal(np.log(config.mean_ratings) - sigma**2 / 2, sigma, config.n_shoppers)
    # Clipping moves the mean; a few fixed-point rescales bring it back.
    for _ in range(4):
        raw *= config.mean_ratings / np.clip(raw, low, cap).mean()
    return np.clip(np.rint(raw), low, cap).astype(np.int64)


def _top_k(keys: np.ndarray, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the k[r] largest keys in each row r (Gumbel-top-k).

    Partitions at the block's largest k first so only those columns get sorted.
    """
    n_cols = keys.shape[1]
    k_max = int(k.max())
    if k_max < n_cols:
        part = np.argpartition(-keys, k_max - 1, axis=1)[:, :k_max]  # (B, k_max)
    else:
        part = np.broadcast_to(np.arange(n_cols), keys.shape)
    order = np.take_along_axis(
        part, np.argsort(-np.take_along_axis(keys, part, axis=1), axis=1), axis=1
    )
    rows, ranks = np.nonzero(np.arange(order.shape[1])[None, :] < k[:, None])
    return rows, order[rows, ranks]


def _strictly_increasing(times: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Bump equal times within a group by whole seconds; input sorted by (group, time).

    s_j = max(t_j, s_{j-1} + 1) within a group equals cummax(t_j - j) + j; offsetting
    each group far above the last lets one global cummax do every group at once.
    """
    starts = np.r_[0, np.flatnonzero(np.diff(group)) + 1]
    lengths = np.diff(np.r_[starts, len(group)])
    j = np.arange(len(group)) - np.repeat(starts, lengths)  # index within group
    offset = group.astype(np.int64) * (1 << 40)
    return np.maximum.accumulate(times - j + offset) - offset + j


def simulate(
    items: pd.DataFrame,
    config: SimulatorConfig | None = None,
    vocab: Vocab | None = None,
    progress: bool = False,
) -> SimulationResult:
    """Simulate shoppers with hidden tastes browsing and rating ``items``.

    Parameters
    ----------
    items
        Catalog with columns ``item_id``, ``category``, ``colour_name``, ``pattern``.
    config
        Model knobs and seed; the default config when ``None``.
    vocab
        Attribute vocabularies (and their order in the taste arrays); sorted
        distinct values of ``items`` when ``None``.
    progress
        Show a tqdm bar over shoppers.

    Returns
    -------
    SimulationResult
        Ratings (each shopper-item pair at most once, 1..5 as floats, unix-second
        timestamps strictly increasing per shopper) and the hidden tastes.
        Identical for identical inputs.
    """
    config = config or SimulatorConfig()
    if "item_id" not in items.columns or items.empty:
        raise ValueError("items must be a non-empty frame with an item_id column")
    item_ids = items["item_id"].astype(str).to_numpy()
    if len(set(item_ids)) != len(item_ids):
        raise ValueError("items.item_id must be unique")
    vocab = vocab or Vocab.from_items(items)
    codes = vocab.encode(items)
    n_items = len(item_ids)
    shoppers = shopper_ids(config.n_shoppers)

    # Independent streams, so e.g. the tastes do not change when the catalog does.
    taste_rng, item_rng, shopper_rng, rating_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(config.seed).spawn(4)
    )

    # 1. Hidden tastes and their score tables.
    tastes = draw_tastes(shoppers, vocab, config, taste_rng)
    tables = taste_tables(tastes, config)
    # 2. Item latents: popularity (normalised log-probabilities) and quality bias.
    log_pop = item_rng.normal(0.0, config.popularity_sigma, n_items)
    log_pop -= np.log(np.exp(log_pop - log_pop.max()).sum()) + log_pop.max()
    item_bias = item_rng.normal(0.0, config.item_bias_sd, n_items)
    # 3. Shopper latents: activity, harshness, the window they are active in.
    n_ratings = _activity(config, n_items, shopper_rng)
    shopper_bias = shopper_rng.normal(0.0, config.shopper_bias_sd, config.n_shoppers)
    window = np.sort(shopper_rng.random((config.n_shoppers, 2)), axis=1)  # (S, 2) in [0, 1)

    m = config.taste_exposure
    with np.errstate(divide="ignore"):  # m in {0, 1} gives a -inf term; logaddexp copes
        log_mix = np.log(m), np.log(1.0 - m)
    parts: list[tuple[np.ndarray, ...]] = []
    from tqdm.auto import tqdm

    with tqdm(total=config.n_shoppers, unit="shopper", disable=not progress) as bar:
        for start in range(0, config.n_shoppers, _BLOCK):
            rows = slice(start, min(start + _BLOCK, config.n_shoppers))
            # 4. Exposure: mixture of popularity and softmax(affinity / T), sampled
            #    without replacement by Gumbel-top-k on the mixture's log-weights.
            aff = tables.affinity(rows, codes)  # (B, I)
            log_q = np.logaddexp(
                log_mix[1] + log_pop[None, :],
                log_mix[0] + _log_softmax(aff / config.exposure_temperature),
            )
            keys = log_q + rating_rng.gumbel(size=aff.shape)
            local, item = _top_k(keys, n_ratings[rows])
            user = local + start
            # 5. Rating: ordinal cut of affinity + biases + Gaussian noise.
            latent = (
                aff[local, item]
                + shopper_bias[user]
                + item_bias[item]
                + rating_rng.normal(0.0, config.rating_noise, len(item))
            )
            stars = 1 + np.searchsorted(np.asarray(config.cutpoints), latent)
            # 6. Time: uniform inside the shopper's active window, in random order.
            t0, t1 = window[user, 0], window[user, 1]
            when = t0 + rating_rng.random(len(item)) * (t1 - t0)
            parts.append((user, item, stars, when))
            bar.update(rows.stop - rows.start)

    user, item, stars, when = (np.concatenate(p) for p in zip(*parts, strict=True))
    seconds = config.start_timestamp + np.floor(when * config.span_seconds).astype(np.int64)
    order = np.lexsort((seconds, user))
    user, item, stars, seconds = user[order], item[order], stars[order], seconds[order]
    ratings = pd.DataFrame(
        {
            "user_id": np.asarray(shoppers.ids)[user],
            "item_id": item_ids[item],
            "rating": stars.astype(np.float64),
            "timestamp": _strictly_increasing(seconds, user),
            "kind": "rating",
        }
    )
    return SimulationResult(ratings=ratings, tastes=tastes, config=config)
