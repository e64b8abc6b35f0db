"""The taste-recovery ceiling probe: the simulator's own generative model, fitted per shopper.

An estimator that knows everything but the hidden tastes: the affinity formula,
the exposure mixture, the ordinal rating model and every knob of the
:class:`SimulatorConfig`. Item popularity and quality are estimated from the
training shoppers' ratings. Each held-out shopper's category, colour and
pattern tastes (and harshness) are the MAP fit of their own stars *and* of which
items they were shown, by gradient ascent (torch, CPU). What it recovers is as
much as the ratings say under the true model; ``bench/taste_recovery.py``
prints it beside pigen, and pigen's target is 0.9x its gap closed.

Relaxations: the Plackett-Luce exposure is scored as independent draws from the
same mixture, and the favourite-colour set is a softmax (the true one has 1-3
non-zero weights), so the probe is a strong estimator, not the Bayes optimum.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from pigen.data.simulator import SimulatorConfig, Tastes

STEPS = 300
LEARNING_RATE = 0.05
# Gaussian pull on each part's logits standing in for its Dirichlet prior: the
# category taste is peaked (concentration 0.3), 1-3 favourite colours, the
# pattern taste flat (concentration 1). Set from the priors, not fitted to data.
PULL = {"category": 0.05, "colour": 0.1, "pattern": 0.5}


def item_latents(ratings: pd.DataFrame, item_ids: tuple[str, ...], train_users: set[str]
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(I,) exposure share and (I,) quality bias, estimated from training shoppers only."""
    train = ratings[ratings["user_id"].isin(train_users)]
    index = pd.Index(item_ids)
    rows = index.get_indexer(train["item_id"])
    counts = np.bincount(rows, minlength=len(item_ids)).astype(np.float64)
    stars = np.bincount(rows, weights=train["rating"].to_numpy(np.float64),
                        minlength=len(item_ids))
    mean = stars.sum() / counts.sum()
    # Shrunk mean-star residual: about one latent unit per star (cut points ~1 apart).
    bias = (stars - counts * mean) / (counts + 5.0)
    popularity = (counts + 0.5) / (counts + 0.5).sum()
    return popularity, bias


def fit_tastes(
    config: SimulatorConfig,
    codes: tuple[np.ndarray, np.ndarray, np.ndarray],
    widths: tuple[int, int, int],
    shown: list[np.ndarray],
    stars: list[np.ndarray],
    popularity: np.ndarray,
    item_bias: np.ndarray,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MAP (U, C) category, (U, K) colour and (U, P) pattern tastes of U shoppers.

    ``shown[u]`` are the item rows shopper u rated and ``stars[u]`` their stars.
    """
    torch.manual_seed(seed)
    n_users = len(shown)
    c_width, k_width, p_width = widths
    category, colour, pattern = (torch.as_tensor(c, dtype=torch.long) for c in codes)
    # Padded (U, L) ratings: item rows, stars, mask.
    length = max(len(s) for s in shown)
    items = torch.zeros((n_users, length), dtype=torch.long)
    star = torch.ones((n_users, length), dtype=torch.long)
    mask = torch.zeros((n_users, length), dtype=torch.bool)
    for u, (rows, values) in enumerate(zip(shown, stars, strict=True)):
        items[u, : len(rows)] = torch.as_tensor(rows)
        star[u, : len(rows)] = torch.as_tensor(values.astype(np.int64))
        mask[u, : len(rows)] = True
    pop = torch.as_tensor(popularity, dtype=torch.float64)
    b_item = torch.as_tensor(item_bias, dtype=torch.float64)
    cuts = torch.tensor([-np.inf, *config.cutpoints, np.inf], dtype=torch.float64)
    noise = max(config.rating_noise, 1e-3)
    normal = torch.distributions.Normal(0.0, 1.0)
    floor = config.taste_floor

    cat_logits = torch.zeros((n_users, c_width), dtype=torch.float64, requires_grad=True)
    col_logits = torch.zeros((n_users, k_width), dtype=torch.float64, requires_grad=True)
    pat_logits = torch.zeros((n_users, p_width), dtype=torch.float64, requires_grad=True)
    b_user = torch.zeros((n_users, 1), dtype=torch.float64, requires_grad=True)
    optimiser = torch.optim.Adam([cat_logits, col_logits, pat_logits, b_user], lr=LEARNING_RATE)

    def affinity() -> torch.Tensor:
        """(U, I) the simulator's affinity under the current tastes."""
        p_cat = (1 - floor) * torch.softmax(cat_logits, 1) + floor / c_width
        weights = torch.softmax(col_logits, 1)
        p_pat = (1 - floor) * torch.softmax(pat_logits, 1) + floor / p_width
        return (config.category_weight * torch.log(c_width * p_cat)[:, category]
                + config.colour_weight * (weights / weights.max(1, keepdim=True).values
                                          )[:, colour]
                + config.pattern_weight * torch.log(p_width * p_pat)[:, pattern])

    for _ in range(STEPS):
        optimiser.zero_grad()
        a = affinity()  # (U, I)
        exposure = ((1 - config.taste_exposure) * pop
                    + config.taste_exposure * torch.softmax(a / config.exposure_temperature, 1))
        seen = torch.log(torch.gather(exposure, 1, items))  # (U, L)
        z = torch.gather(a, 1, items) + b_user + b_item[items]
        upper = normal.cdf((cuts[star] - z) / noise)
        lower = normal.cdf((cuts[star - 1] - z) / noise)
        rated = torch.log(torch.clamp(upper - lower, min=1e-12))
        log_posterior = (((seen + rated) * mask).sum()
                         - (b_user ** 2).sum() / (2 * max(config.shopper_bias_sd, 1e-3) ** 2)
                         # The Dirichlet priors, as Gaussian pulls on the logits: weak for
                         # the peaked category taste (0.3), strong for the flat pattern one.
                         - PULL["category"] * (cat_logits ** 2).sum()
                         - PULL["colour"] * (col_logits ** 2).sum()
                         - PULL["pattern"] * (pat_logits ** 2).sum())
        (-log_posterior / n_users).backward()
        optimiser.step()
    with torch.no_grad():
        return (torch.softmax(cat_logits, 1).numpy(), torch.softmax(col_logits, 1).numpy(),
                torch.softmax(pat_logits, 1).numpy())


def probe_tastes(world_items: pd.DataFrame, item_ids: tuple[str, ...], ratings: pd.DataFrame,
                 tastes: Tastes, config: SimulatorConfig, train_rows: np.ndarray,
                 rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The probe's (category, colour, pattern) estimates for the shoppers ``rows``."""
    shoppers = tastes.shoppers
    train_users = {shoppers.id_of(int(r)) for r in train_rows}
    popularity, bias = item_latents(ratings, item_ids, train_users)
    codes = tastes.vocab.encode(world_items)
    widths = tuple(len(v) for v in tastes.vocab.as_tuple())
    index = pd.Index(item_ids)
    grouped = dict(tuple(ratings.groupby("user_id")))
    shown, stars = [], []
    for row in rows:
        mine = grouped[shoppers.id_of(int(row))]
        shown.append(index.get_indexer(mine["item_id"]))
        stars.append(mine["rating"].to_numpy())
    return fit_tastes(config, codes, widths, shown, stars, popularity,  # type: ignore[arg-type]
                      bias)
