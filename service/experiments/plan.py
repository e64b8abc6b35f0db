"""An experiment's analysis plan: which metrics decide, which inform, which must not get worse.

Fixed when the experiment is created, before any data, so the primary metric
cannot be picked after seeing which one moved. Stored with the experiment.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from pigen.data.typed_config import TypedConfig

MetricName = Literal["conversion", "revenue_per_user", "add_to_cart_rate",
                     "average_order_value", "p90_order_value"]
Correction = Literal["holm", "bh", "none"]


class AnalysisPlan(TypedConfig):
    """Primary, secondary and guardrail metrics, the multiple-testing correction and the
    smallest effect worth knowing about."""

    # The one metric the ship decision rests on; corrected only across variants, so
    # adding secondary metrics never costs it power.
    primary: MetricName = "conversion"
    # Metrics reported beside it, corrected together across metrics x variants.
    secondary: tuple[MetricName, ...] = ("revenue_per_user", "add_to_cart_rate",
                                         "average_order_value", "p90_order_value")
    # Metrics that must not get significantly worse: any that does marks the result
    # "do not ship". Tested uncorrected, so harm is caught as early as possible.
    guardrails: tuple[MetricName, ...] = ()
    # holm: family-wise error; bh: false discovery rate (Benjamini-Hochberg); none.
    correction: Correction = "holm"
    # Relative effect (0.02 = 2%) below which a change does not matter: an interval
    # inside +-minimum_effect is reported "neutral", not just "not significant".
    minimum_effect: float = Field(default=0.02, gt=0.0, lt=1.0)

    @model_validator(mode="after")
    def _distinct(self) -> AnalysisPlan:
        named = [self.primary, *self.secondary]
        if len(set(named)) != len(named):
            raise ValueError(f"primary and secondary metrics must be distinct, got {named}")
        if len(set(self.guardrails)) != len(self.guardrails):
            raise ValueError(f"guardrails must be distinct, got {list(self.guardrails)}")
        return self

    def roles(self) -> list[tuple[str, str]]:
        """``(metric, role)`` for each analysed metric, a guardrail may also be primary or
        secondary (then it is analysed under both roles)."""
        roles: list[tuple[str, str]] = [(self.primary, "primary")]
        roles += [(m, "secondary") for m in self.secondary]
        return roles + [(m, "guardrail") for m in self.guardrails]
