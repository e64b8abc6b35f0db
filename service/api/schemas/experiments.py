"""A/B experiments: definitions, assignments, and results with their intervals and SRM check."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from pigen.service.api.schemas.fields import Strict


class VariantIn(Strict):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
                      examples=["personalized"])
    weight: float = Field(gt=0, allow_inf_nan=False, examples=[1.0])
    config: dict[str, Any] = Field(default_factory=dict, examples=[{"mode": "generated"}],
                                   description="What the image endpoints do for this arm.")


class ExperimentCreate(Strict):
    key: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_.-]*$",
                     examples=["hero-image"])
    description: str = Field(default="", max_length=2000)
    variants: list[VariantIn] = Field(min_length=2, max_length=20)
    coverage: float = Field(default=1.0, ge=0.0, le=1.0, allow_inf_nan=False)


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


class ComparisonPublic(BaseModel):
    metric: Literal["conversion", "revenue_per_user"]
    variant: str
    control_mean: float | None
    variant_mean: float | None
    difference: IntervalPublic
    lift: IntervalPublic
    z: float | None
    p_value: float | None
    prob_beat_control: float | None
    sequential_difference: IntervalPublic
    sequential_lift: IntervalPublic
    sequential_p_value: float | None
    significant: bool
    sequential_significant: bool


class SRMPublic(BaseModel):
    observed: list[int]
    expected: list[float]
    chi2: float
    p_value: float
    flagged: bool = Field(description="p < 0.001: the split is broken; distrust the results.")


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
    cuped: bool
    arms: list[ArmPublic]
    comparisons: list[ComparisonPublic]
    srm: SRMPublic
    excluded_multi_exposed: int = Field(description="Users exposed to more than one variant, "
                                                    "left out of every number above.")
    cuped_theta: dict[str, float]
    cuped_variance_reduction: dict[str, float]
    timeline: list[TimelinePublic]
    plot_url: str
