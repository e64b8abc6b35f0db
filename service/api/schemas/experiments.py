"""A/B experiments: definitions, assignments, and results with their intervals and SRM check."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from pigen.service.api.schemas.fields import Strict
from pigen.service.api.schemas.images import ImagePublic


class VariantIn(Strict):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
                      examples=["personalized"])
    weight: float = Field(gt=0, allow_inf_nan=False, examples=[1.0])
    config: dict[str, Any] = Field(default_factory=dict, examples=[{"mode": "generated"}],
                                   description="What the image endpoints do for this arm.")


MetricName = Literal["conversion", "revenue_per_user", "add_to_cart_rate",
                     "average_order_value", "p90_order_value"]


def _default_secondary() -> list[MetricName]:
    return ["revenue_per_user", "add_to_cart_rate", "average_order_value", "p90_order_value"]


class PlanIn(Strict):
    """The analysis plan, fixed before any data (every field optional: the defaults)."""

    primary: MetricName = "conversion"
    secondary: list[MetricName] = Field(default_factory=_default_secondary)
    guardrails: list[MetricName] = Field(default_factory=list)
    correction: Literal["holm", "bh", "none"] = "holm"
    minimum_effect: float = Field(default=0.02, gt=0.0, lt=1.0, allow_inf_nan=False,
                                  description="Relative effect below which a change does "
                                              "not matter (0.02 = 2%).")


class ExperimentCreate(Strict):
    key: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_.-]*$",
                     examples=["hero-image"])
    description: str = Field(default="", max_length=2000)
    variants: list[VariantIn] = Field(min_length=2, max_length=20)
    coverage: float = Field(default=1.0, ge=0.0, le=1.0, allow_inf_nan=False)
    plan: PlanIn | None = None


class VariantPublic(BaseModel):
    name: str
    weight: float
    config: dict[str, Any]


class ExperimentPublic(BaseModel):
    key: str
    description: str
    status: Literal["draft", "running", "stopped"]
    variants: list[VariantPublic]
    coverage: float
    control: str
    created_at: datetime
    started_at: datetime | None
    stopped_at: datetime | None
    plan: dict[str, Any]


class ExperimentList(BaseModel):
    experiments: list[ExperimentPublic]


class AssignmentPublic(BaseModel):
    experiment: str
    user_id: str
    status: str
    in_experiment: bool = Field(description="False when coverage leaves the user out.")
    variant: str | None
    config: dict[str, Any]
    exposure_logged: bool = Field(description="True when this call recorded the first "
                                              "exposure (expose=true, running experiment).")


class IntervalPublic(BaseModel):
    estimate: float | None
    low: float | None
    high: float | None


class ArmPublic(BaseModel):
    name: str
    share: float
    users: int
    conversions: int
    conversion_rate: float | None
    revenue: float
    revenue_per_user: float | None
    orders: int
    add_to_cart_rate: float | None


class ComparisonPublic(BaseModel):
    metric: MetricName
    role: Literal["primary", "secondary", "guardrail"]
    variant: str
    control_mean: float | None
    variant_mean: float | None
    control_var: float | None
    variant_var: float | None
    difference: IntervalPublic
    lift: IntervalPublic = Field(description="Fieller interval of the same test as p_value.")
    z: float | None
    p_value: float | None
    adjusted_p_value: float | None
    corrected_difference: IntervalPublic
    corrected_lift: IntervalPublic = Field(description="Excludes 0 exactly when "
                                                       "adjusted_p_value < alpha.")
    prob_beat_control: float | None
    sequential_difference: IntervalPublic
    sequential_lift: IntervalPublic
    sequential_p_value: float | None
    significant: bool
    sequential_significant: bool
    verdict: Literal["better", "worse", "neutral", "inconclusive"]
    cuped: bool


class DecisionPublic(BaseModel):
    variant: str
    decision: Literal["ship", "do not ship", "neutral", "keep running", "invalid"]
    reasons: list[str]


class SRMPublic(BaseModel):
    observed: list[int]
    expected: list[float]
    chi2: float
    p_value: float
    flagged: bool = Field(description="p < 0.001: the split is broken; distrust the results.")


class CupedPublic(BaseModel):
    method: Literal["none", "single", "multi"]
    single: dict[str, float]
    multi: dict[str, float]
    coefficients: dict[str, dict[str, float]]


class TimelinePublic(BaseModel):
    day: int
    at: float = Field(description="Unix seconds of the look (end of the day).")
    variant: str
    users: int
    lift: IntervalPublic
    sequential_lift: IntervalPublic
    sequential_p_value: float | None


class ResultsPublic(BaseModel):
    key: str
    status: str
    control: str
    as_of: datetime
    alpha: float
    tau_relative: float
    plan: dict[str, Any]
    arms: list[ArmPublic]
    comparisons: list[ComparisonPublic]
    decisions: list[DecisionPublic]
    srm: SRMPublic
    excluded_multi_exposed: int = Field(description="Users exposed to more than one variant, "
                                                    "left out of every number above.")
    cuped: CupedPublic
    breakdown: dict[str, Any] | None = Field(description="By a user dimension: SRM and the "
                                                         "primary effect per value, "
                                                         "heterogeneity per variant.")
    timeline: list[TimelinePublic]
    plot_url: str


class SamplePublic(BaseModel):
    variant: str
    mode: Literal["catalog", "generated"]
    generator_version: int | None = Field(description="None: the active generator.")
    images: list[ImagePublic] = Field(description="Empty for a catalog-photo arm.")


class SamplesPublic(BaseModel):
    experiment: str
    user_id: str = Field(description="The fixed sample shopper every variant draws for.")
    samples: list[SamplePublic]
