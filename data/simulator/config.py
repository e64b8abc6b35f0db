"""The simulator's one typed config: every knob of the generative model, checked up front."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from pigen.data.typed_config import TypedConfig

_DAY_SECONDS = 86_400


Positive = Annotated[float, Field(gt=0)]
NonNegative = Annotated[float, Field(ge=0)]


class SimulatorConfig(TypedConfig):
    """Knobs of the storefront simulator (the model is in ``pigen.data.simulator``'s docstring).

    Defaults give ~200,000 ratings from 5,000 shoppers with a MovieLens-like rating
    mix (mode 4, mean ~3.5) whose taste signal is clear but noisy: an item in a
    shopper's top category averages about one star more than one outside it.
    """

    # Population and activity.
    n_shoppers: int = Field(default=5_000, gt=0)
    seed: int = Field(default=0, ge=0)
    # Mean ratings per shopper; 5,000 x 40 gives the ~200,000 the demo wants.
    mean_ratings: Positive = 40.0
    # Log-normal sigma of per-shopper activity: a few heavy raters, many light ones.
    activity_sigma: NonNegative = 1.0
    # Every shopper rates at least this many (cold users are a separate problem).
    min_ratings: int = Field(default=5, gt=0)
    # Cap on one shopper's ratings (also capped at the catalog size).
    max_ratings: int = 1_000

    # Hidden tastes.
    # Dirichlet concentration of the category taste; < 1 makes it peaked, so a
    # shopper cares about a few categories rather than all ten.
    category_concentration: Positive = 0.3
    # A shopper has between min and max favourite colours, uniformly.
    min_favourite_colours: int = Field(default=1, gt=0)
    max_favourite_colours: int = 3
    # Dirichlet concentration of the weights over the favourite colours.
    colour_concentration: Positive = 1.0
    # Dirichlet concentration of the pattern taste; 1 is uniform over the simplex.
    pattern_concentration: Positive = 1.0
    # Share of a uniform distribution mixed into taste before taking logs, so a
    # category the shopper never drew still scores finitely (people do buy outside type).
    taste_floor: float = Field(default=0.1, gt=0, le=1)

    # Affinity = weighted sum of the three taste terms.
    category_weight: NonNegative = 0.8
    colour_weight: NonNegative = 1.0
    pattern_weight: NonNegative = 0.5

    # Exposure: what a shopper is shown.
    # Log-normal sigma of item popularity; 1.0 gives a long tail of rarely seen items.
    popularity_sigma: NonNegative = 1.0
    # Share of exposure drawn from the shopper's taste; the rest from popularity.
    taste_exposure: float = Field(default=0.5, ge=0, le=1)
    # Temperature of the softmax over affinity; lower shows ever closer matches.
    exposure_temperature: Positive = 1.0

    # Ratings: an ordinal model on a latent score.
    # Standard deviation of the per-rating Gaussian noise.
    rating_noise: NonNegative = 1.2
    # Harsh and lenient shoppers; good and bad items, independent of taste.
    shopper_bias_sd: NonNegative = 0.4
    item_bias_sd: NonNegative = 0.4
    # Four increasing cut points on the latent score splitting it into 1..5 stars;
    # the defaults give roughly MovieLens's mix (7/12/23/36/22 %, mean 3.5).
    cutpoints: tuple[float, float, float, float] = (-2.8, -1.7, -0.4, 1.4)

    # Time: ratings spread over span_days from start_timestamp (unix seconds, UTC).
    start_timestamp: int = Field(default=1_704_067_200, ge=0)  # 2024-01-01T00:00:00Z
    span_days: Positive = 180.0

    @model_validator(mode="after")
    def _check_rules(self) -> SimulatorConfig:
        """The rules between fields (types and single-field ranges are the base's job)."""
        problems: list[str] = []
        if self.max_ratings < self.min_ratings:
            problems.append("max_ratings must be >= min_ratings")
        if self.max_favourite_colours < self.min_favourite_colours:
            problems.append("max_favourite_colours must be >= min_favourite_colours")
        cuts = self.cutpoints
        if any(b <= a for a, b in zip(cuts, cuts[1:], strict=False)):
            problems.append(f"cutpoints must be 4 strictly increasing numbers, got {cuts!r}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def span_seconds(self) -> int:
        return int(round(self.span_days * _DAY_SECONDS))
