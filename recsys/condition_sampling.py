"""Draw condition vectors from a taste profile: sampling, never averaging.

Each image draws one whole liked item's bundle (its category, colour and
pattern together) from the profile, so a 50/50 red/blue taste gives red images
and blue images, never a muddy purple, and a shopper who likes red dresses and
blue sandals gets no blue dresses. A profile with no bundles (no weighted item
has attributes), or ``bundles=False``, draws the three parts apart. Each image
gets its own seed, so it can be remade alone.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from pigen.data.catalog.palette import COLOUR_NAMES
from pigen.data.conditions import ConditionVector
from pigen.recsys.conditioning import TasteProfile

#: Std of the Gaussian RGB jitter at diversity 1: about the built-in catalog's own
#: colour spread (0.05), so samples vary like real items of one named colour.
DEFAULT_JITTER = 0.05
_Cdfs = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # category, colour, pattern, bundle


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
    bundles: bool = True,
) -> list[ConditionSample]:
    """Draw ``n`` condition vectors from a profile; identical for identical arguments.

    Parameters
    ----------
    diversity
        0: every image is the mode (the heaviest bundle, or top category,
        heaviest colour component and top pattern, with no jitter); 1: the
        profile as it is; > 1: flatter than the profile (each distribution
        raised to ``1 / diversity``) with more colour jitter.
    jitter
        Std of the RGB jitter around a component centre at diversity 1 (scaled
        by diversity, clipped to [0, 1]).
    bundles
        Draw whole liked items' (category, colour, pattern) together (default);
        False draws the three parts independently (the earlier behaviour).

    Returns
    -------
    list[ConditionSample]
        One-hot category and pattern parts (what the generator trained on), the
        RGB, and each sample's own seed from :func:`sample_seeds`.
    """
    cdfs = _cdfs(profile, diversity, jitter, bundles)  # once per profile, not once per image
    return [_draw(profile, cdfs, int(s), diversity, jitter) for s in sample_seeds(seed, n)]


def sample_condition(
    profile: TasteProfile, seed: int, diversity: float = 1.0, jitter: float = DEFAULT_JITTER,
    bundles: bool = True,
) -> ConditionSample:
    """One condition from its own seed (see :func:`sample_conditions`)."""
    return _draw(profile, _cdfs(profile, diversity, jitter, bundles), seed, diversity, jitter)


def _cdfs(profile: TasteProfile, diversity: float, jitter: float, bundles: bool) -> _Cdfs:
    """Cumulative (category, colour component, pattern, bundle) distributions at ``diversity``.

    The bundle one is empty when parts are drawn apart.
    """
    if not diversity >= 0:
        raise ValueError(f"diversity must be >= 0, got {diversity}")
    if not jitter >= 0:
        raise ValueError(f"jitter must be >= 0, got {jitter}")
    use_bundles = bundles and len(profile.bundle_weights) > 0
    return (np.cumsum(_sharpen(profile.category, diversity)),
            np.cumsum(_sharpen(profile.colour_weights, diversity)),
            np.cumsum(_sharpen(profile.pattern, diversity)),
            np.cumsum(_sharpen(profile.bundle_weights, diversity)) if use_bundles
            else np.zeros(0))


def _draw(profile: TasteProfile, cdfs: _Cdfs, seed: int, diversity: float, jitter: float
          ) -> ConditionSample:
    rng = np.random.default_rng(seed)
    # Always the same draws in the same order, so one seed at two diversities gives
    # related images (a diversity slider moves them smoothly, not at random).
    uniforms = rng.random(3)  # category or bundle, colour component, pattern
    noise = rng.standard_normal(3)  # RGB jitter
    layout = profile.layout
    category_cdf, colour_cdf, pattern_cdf, bundle_cdf = cdfs
    category = _pick(category_cdf, uniforms[0])
    component = _pick(colour_cdf, uniforms[1])
    pattern = _pick(pattern_cdf, uniforms[2])
    centre, colour_name = profile.colour_rgb[component], profile.colour_names[component]
    if len(bundle_cdf):
        # One liked kind of item: its parts together; an unknown part keeps its own draw.
        bundle = _pick(bundle_cdf, uniforms[0])
        bundle_category, bundle_colour, bundle_pattern = profile.bundle_parts[bundle].tolist()
        category = bundle_category if bundle_category >= 0 else _pick(category_cdf,
                                                                      uniforms[1])
        pattern = bundle_pattern if bundle_pattern >= 0 else pattern
        if bundle_colour >= 0:
            centre, colour_name = profile.bundle_rgb[bundle], COLOUR_NAMES[bundle_colour]
    rgb = np.clip(centre + jitter * diversity * noise, 0.0, 1.0)
    category_part = np.zeros(layout.n_categories, dtype=np.float32)
    category_part[category] = 1.0
    pattern_part = np.zeros(layout.n_patterns, dtype=np.float32)
    pattern_part[pattern] = 1.0
    vector = ConditionVector(layout, category_part, rgb, pattern_part)
    return ConditionSample(vector, int(seed), colour_name)


def _sharpen(p: np.ndarray, diversity: float) -> np.ndarray:
    """``p ** (1 / diversity)`` renormalised, in log space; diversity 0 -> one-hot mode."""
    if len(p) == 0:
        return np.zeros(0)
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
