"""The simulator's one typed config: every knob of the generative model, checked up front."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

_DAY_SECONDS = 86_400


@dataclass(frozen=True)
class SimulatorConfig:
    """Knobs of the storefront simulator (the model is in ``pigen.data.simulator``'s docstring).

    Defaults give ~200,000 ratings from 5,000 shoppers with a MovieLens-like rating
    mix (mode 4, mean ~3.5) whose taste signal is clear but noisy: an item in a
    shopper's top category averages about one star more than one outside it.
    """

    # Population and activity.
    n_shoppers: int = 5_000
    seed: int = 0
    # Mean ratings per shopper; 5,000 x 40 gives the ~200,000 the demo wants.
    mean_ratings: float = 40.0
    # Log-normal sigma of per-shopper activity: a few heavy raters, many light ones.
    activity_sigma: float = 1.0
    # Every shopper rates at least this many (cold users are a separate problem).
    min_ratings: int = 5
    # Cap on one shopper's ratings (also capped at the catalog size).
    max_ratings: int = 1_000

    # Hidden tastes.
    # Dirichlet concentration of the category taste; < 1 makes it peaked, so a
    # shopper cares about a few categories rather than all ten.
    category_concentration: float = 0.3
    # A shopper has between min and max favourite colours, uniformly.
    min_favourite_colours: int = 1
    max_favourite_colours: int = 3
    # Dirichlet concentration of the weights over the favourite colours.
    colour_concentration: float = 1.0
    # Dirichlet concentration of the pattern taste; 1 is uniform over the simplex.
    pattern_concentration: float = 1.0
    # Share of a uniform distribution mixed into taste before taking logs, so a
    # category the shopper never drew still scores finitely (people do buy outside type).
    taste_floor: float = 0.1

    # Affinity = weighted sum of the three taste terms.
    category_weight: float = 0.8
    colour_weight: float = 1.0
    pattern_weight: float = 0.5

    # Exposure: what a shopper is shown.
    # Log-normal sigma of item popularity; 1.0 gives a long tail of rarely seen items.
    popularity_sigma: float = 1.0
    # Share of exposure drawn from the shopper's taste; the rest from popularity.
    taste_exposure: float = 0.5
    # Temperature of the softmax over affinity; lower shows ever closer matches.
    exposure_temperature: float = 1.0

    # Ratings: an ordinal model on a latent score.
    # Standard deviation of the per-rating Gaussian noise.
    rating_noise: float = 1.2
    # Harsh and lenient shoppers; good and bad items, independent of taste.
    shopper_bias_sd: float = 0.4
    item_bias_sd: float = 0.4
    # Four increasing cut points on the latent score splitting it into 1..5 stars;
    # the defaults give roughly MovieLens's mix (7/12/23/36/22 %, mean 3.5).
    cutpoints: tuple[float, float, float, float] = (-2.8, -1.7, -0.4, 1.4)

    # Time: ratings spread over span_days from start_timestamp (unix seconds, UTC).
    start_timestamp: int = 1_704_067_200  # 2024-01-01T00:00:00Z
    span_days: float = 180.0

    def __post_init__(self) -> None:
        for name in (
            "n_shoppers",
            "seed",
            "min_ratings",
            "max_ratings",
            "min_favourite_colours",
            "max_favourite_colours",
            "start_timestamp",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError(f"{name} must be an int, got {value!r}")
        floats = [f.name for f in dataclasses.fields(self) if f.type == "float"]
        for name in floats:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TypeError(f"{name} must be a number, got {value!r}")
            if not math.isfinite(value):
                raise ValueError(f"{name} must be finite, got {value!r}")
        positive = (
            "n_shoppers",
            "mean_ratings",
            "min_ratings",
            "category_concentration",
            "colour_concentration",
            "pattern_concentration",
            "exposure_temperature",
            "span_days",
            "min_favourite_colours",
        )
        for name in positive:
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")
        non_negative = (
            "seed",
            "activity_sigma",
            "category_weight",
            "colour_weight",
            "pattern_weight",
            "popularity_sigma",
            "rating_noise",
            "shopper_bias_sd",
            "item_bias_sd",
            "start_timestamp",
        )
        for name in non_negative:
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        if self.max_ratings < self.min_ratings:
            raise ValueError("max_ratings must be >= min_ratings")
        if self.max_favourite_colours < self.min_favourite_colours:
            raise ValueError("max_favourite_colours must be >= min_favourite_colours")
        if not 0.0 < self.taste_floor <= 1.0:
            raise ValueError(f"taste_floor must be in (0, 1], got {self.taste_floor!r}")
        if not 0.0 <= self.taste_exposure <= 1.0:
            raise ValueError(f"taste_exposure must be in [0, 1], got {self.taste_exposure!r}")
        cuts = tuple(float(c) for c in self.cutpoints)
        if len(cuts) != 4 or any(b <= a for a, b in zip(cuts, cuts[1:], strict=False)):
            raise ValueError(f"cutpoints must be 4 strictly increasing numbers, got {cuts!r}")
        object.__setattr__(self, "cutpoints", cuts)

    @property
    def span_seconds(self) -> int:
        return int(round(self.span_days * _DAY_SECONDS))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict, recorded next to what the config produced."""
        out = dataclasses.asdict(self)
        out["cutpoints"] = list(self.cutpoints)
        return out

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> SimulatorConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error, not silently dropped."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown SimulatorConfig keys: {unknown}")
        values = dict(values)
        if "cutpoints" in values:
            values["cutpoints"] = tuple(values["cutpoints"])
        return cls(**values)
