"""Draw condition vectors from a taste profile: sampling, never averaging.

Each image's category, colour component and pattern are drawn from the
profile, so a 50/50 red/blue taste gives red images and blue images, never a
muddy purple; each image gets its own seed, so it can be remade alone.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from pigen.data.conditions import ConditionVector
from pigen.recsys.conditioning import TasteProfile

#: Std of the Gaussian RGB jitter at diversity 1: about the built-in catalog's own
#: colour spread (0.05), so samples vary like real items of one named colour.
DEFAULT_JITTER = 0.05

@dataclass(frozen=True)
class ConditionSample:
    """One image's condition and the seed that remakes it alone.

    ``sample_condition(profile, seed, diversity, jitter)`` returns this sample
    again; the generator may use the same seed for the image's noise.
    """

    condition: ConditionVector
    seed: int
    colour_name: str  # the palette name of the mixture component drawn


def shopper_seed(seed: int, shopper_id: str) -> int:
    """A shopper's own sampling seed in [0, 2**63), hashed from (request seed, shopper id).

    Every image a shopper is shown takes its seed from (shopper, seed, index):
    without the shopper, two shoppers asking with the same seed would get the same
    k-th noise, so equal tastes gave equal pictures and every shopper's k-th draw
    fell in the same place of their distributions. Hashing the id (not a row
    number) keeps a shopper's images the same wherever they are listed — the API,
    a campaign shard, a segment.
    """
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    digest = hashlib.blake2b(f"{seed}\x1f{shopper_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


def sample_seeds(seed: int, n: int) -> np.ndarray:
    """(n,) per-image seeds in [0, 2**63), hashed from (seed, k).

    Hashing, not ``seed + k``: two users with neighbouring seeds would otherwise
    share images' seeds.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    states = [np.random.SeedSequence([seed, k]).generate_state(1, np.uint64)[0] for k in range(n)]
    return (np.asarray(states, dtype=np.uint64) >> np.uint64(1)).astype(np.int64)


def sample_conditions(
    profile: TasteProfile,
    n: int,
    seed: int,
    diversity: float = 1.0,
    jitter: float = DEFAULT_JITTER,
) -> list[ConditionSample]:
    """Draw ``n`` condition vectors from a profile; identical for identical arguments.

    Parameters
    ----------
    diversity
        0: every image is the mode (top category, heaviest colour component's
        centre with no jitter, top pattern); 1: the profile as it is; > 1:
        flatter than the profile (each distribution raised to ``1 / diversity``)
        with more colour jitter.
    jitter
        Std of the RGB jitter around a component centre at diversity 1 (scaled
        by diversity, clipped to [0, 1]).

    Returns
    -------
    list[ConditionSample]
        One-hot category and pattern parts (what the generator trained on), the
        RGB, and each sample's own seed from :func:`sample_seeds`.
    """
    cdfs = _cdfs(profile, diversity, jitter)  # once per profile, not once per image
    return [_draw(profile, cdfs, int(s), diversity, jitter) for s in sample_seeds(seed, n)]


def sample_condition(
    profile: TasteProfile, seed: int, diversity: float = 1.0, jitter: float = DEFAULT_JITTER
) -> ConditionSample:
    """One condition from its own seed (see :func:`sample_conditions`)."""
    return _draw(profile, _cdfs(profile, diversity, jitter), seed, diversity, jitter)


def _cdfs(profile: TasteProfile, diversity: float, jitter: float
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cumulative (category, colour component, pattern) distributions at ``diversity``."""
    if not diversity >= 0:
        raise ValueError(f"diversity must be >= 0, got {diversity}")
    if not jitter >= 0:
        raise ValueError(f"jitter must be >= 0, got {jitter}")
    return (np.cumsum(_sharpen(profile.category, diversity)),
            np.cumsum(_sharpen(profile.colour_weights, diversity)),
            np.cumsum(_sharpen(profile.pattern, diversity)))


def _draw(profile: TasteProfile, cdfs: tuple[np.ndarray, np.ndarray, np.ndarray], seed: int,
          diversity: float, jitter: float) -> ConditionSample:
    rng = np.random.default_rng(seed)
    # Always the same draws in the same order, so one seed at two diversities gives
    # related images (a diversity slider moves them smoothly, not at random).
    uniforms = rng.random(3)  # category, colour component, pattern
    noise = rng.standard_normal(3)  # RGB jitter
    layout = profile.layout
    category, component, pattern = (_pick(cdf, u) for cdf, u in zip(cdfs, uniforms,
                                                                       strict=True))
    rgb = np.clip(profile.colour_rgb[component] + jitter * diversity * noise, 0.0, 1.0)
    category_part = np.zeros(layout.n_categories, dtype=np.float32)
    category_part[category] = 1.0
    pattern_part = np.zeros(layout.n_patterns, dtype=np.float32)
    pattern_part[pattern] = 1.0
    vector = ConditionVector(layout, category_part, rgb, pattern_part)
    return ConditionSample(vector, int(seed), profile.colour_names[component])


def _sharpen(p: np.ndarray, diversity: float) -> np.ndarray:
    """``p ** (1 / diversity)`` renormalised, in log space; diversity 0 -> one-hot mode."""
    if diversity == 0:
        mode = np.zeros(len(p))
        mode[int(np.argmax(p))] = 1.0
        return mode
    with np.errstate(divide="ignore"):
        logits = np.log(p) / diversity
    logits -= logits.max()
    sharp = np.exp(logits)
    return sharp / sharp.sum()


def _pick(cdf: np.ndarray, u: float) -> int:
    """Inverse-CDF draw from a cumulative distribution; zero-probability entries never win."""
    return min(int(np.searchsorted(cdf, u * cdf[-1], side="right")), len(cdf) - 1)
