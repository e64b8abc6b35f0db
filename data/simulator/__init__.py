"""Storefront simulator: seeded shoppers with hidden tastes who browse and rate a catalog.

The ratings go to the database like any other; the hidden tastes go to a
separate file, so later stages can score how well a shopper's images fit their
*true* taste. Vocabularies (categories C, colours K, patterns P) come from the
catalog, sorted, so any catalog works.

Generative model (every knob is a :class:`SimulatorConfig` field)
-----------------------------------------------------------------

Hidden taste of shopper u:

* ``p_cat[u] ~ Dirichlet(category_concentration * 1_C)``; 0.3 makes it peaked,
  so a shopper cares about a few categories.
* ``n_fav[u] ~ Uniform{1..3}`` favourite colours, chosen uniformly without
  replacement, with weights ``w_col[u] ~ Dirichlet(colour_concentration)`` on them
  (0 on every other colour).
* ``p_pat[u] ~ Dirichlet(pattern_concentration * 1_P)``.

Affinity of shopper u for item i (category c, colour k, pattern p), with
``smooth(q) = (1 - f) q + f / len(q)`` (f = ``taste_floor``) so nothing is -inf::

    a[u, i] = category_weight * log(C * smooth(p_cat[u])[c])
            + colour_weight   * w_col[u, k] / max(w_col[u])      # top colour = full weight
            + pattern_weight  * log(P * smooth(p_pat[u])[p])

Item latents: popularity ``pop[i] ∝ exp(N(0, popularity_sigma^2))`` (log-normal,
long tail) and a quality bias ``b_item[i] ~ N(0, item_bias_sd^2)``.

Shopper latents: activity ``n[u]`` log-normal (``activity_sigma``), clipped to
``[min_ratings, max_ratings]`` and rescaled to mean ``mean_ratings``; a
harshness bias ``b_user[u] ~ N(0, shopper_bias_sd^2)``; an active window
``[t0, t1]`` (two sorted uniforms over the ``span_days`` from ``start_timestamp``).

Exposure: shopper u is shown ``n[u]`` distinct items drawn without replacement
(Plackett-Luce, done as Gumbel-top-k) from the mixture::

    q[u] = (1 - taste_exposure) * pop + taste_exposure * softmax(a[u] / exposure_temperature)

At temperature 1 the taste half weights each item of category c by a factor
``smooth(p_cat[u])[c] ** category_weight`` (the default weight 0.8 flattens it a
little), so which items a shopper rated already carries their category taste.

Rating: every shown item is rated, by an ordinal cut of a noisy latent score::

    z = a[u, i] + b_user[u] + b_item[i] + N(0, rating_noise^2)
    rating = 1 + #{cutpoints below z}            # 1..5 stars

Timestamps: uniform in the shopper's window, assigned in random order (so a
chronological split does not hold out only the worst matches), then made
strictly increasing per shopper.
"""

from pigen.data.simulator.config import SimulatorConfig
from pigen.data.simulator.storefront import (
    RATING_COLUMNS,
    SimulationResult,
    TasteTables,
    simulate,
    taste_tables,
)
from pigen.data.simulator.tastes import Taste, Tastes, Vocab, draw_tastes, shopper_ids
from pigen.data.simulator.tastes_file import load_tastes, read_tastes_header, save_tastes

__all__ = [
    "RATING_COLUMNS",
    "SimulationResult",
    "SimulatorConfig",
    "Taste",
    "TasteTables",
    "Tastes",
    "Vocab",
    "draw_tastes",
    "load_tastes",
    "read_tastes_header",
    "save_tastes",
    "shopper_ids",
    "simulate",
    "taste_tables",
]
