"""A/B experiments: define, start and stop them; assignments; results and their plot.

The admin page (``/admin``) lives here too, on :data:`page_router`, because it
shows nothing but this resource.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Response
from fastapi import Path as PathParam
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from pigen.service.api.deps import AdminAccess, EngineDep, ReadAccess
from pigen.service.api.schemas import ExternalId, Strict
from pigen.service.experiments import serving, store
from pigen.service.experiments.assignment import Variant
from pigen.service.experiments.store import ExperimentConflict, ExperimentInfo, UnknownExperiment

router = APIRouter(prefix="/experiments", tags=["experiments"])
page_router = APIRouter(tags=["experiments"])

ADMIN_PAGE = Path(__file__).resolve().parents[1] / "web" / "admin.html"

KeyPath = Annotated[str, PathParam(min_length=1, max_length=64,
                                   description="The experiment's key, e.g. hero-image.")]


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


def _public(info: ExperimentInfo) -> ExperimentPublic:
    return ExperimentPublic.model_validate(info.to_dict())


async def _get(engine: Any, key: str) -> ExperimentInfo:
    try:
        return await run_in_threadpool(store.get_experiment, engine, key)
    except UnknownExperiment as error:
        raise HTTPException(404, str(error)) from None


@router.get("", response_model=ExperimentList, dependencies=[ReadAccess])
async def list_experiments(engine: EngineDep) -> ExperimentList:
    """Every experiment, newest first."""
    infos = await run_in_threadpool(store.list_experiments, engine)
    return ExperimentList(experiments=[_public(i) for i in infos])


@router.post("", response_model=ExperimentPublic, status_code=201, dependencies=[AdminAccess])
async def create_experiment(body: ExperimentCreate, engine: EngineDep) -> ExperimentPublic:
    """Define an experiment (in draft). 409 when the key is taken."""
    try:
        variants = [Variant(v.name, v.weight, v.config) for v in body.variants]
        info = await run_in_threadpool(store.create_experiment, engine, body.key, variants,
                                       body.description, body.coverage)
    except ValueError as error:
        raise HTTPException(422, str(error)) from None
    except ExperimentConflict as error:
        raise HTTPException(409, str(error)) from None
    return _public(info)


@router.post("/{key}/{action}", response_model=ExperimentPublic, dependencies=[AdminAccess])
async def change_status(key: KeyPath, action: Literal["start", "stop"],
                        engine: EngineDep) -> ExperimentPublic:
    """``start`` (draft -> running) or ``stop`` (running -> stopped); 409 otherwise."""
    do = store.start_experiment if action == "start" else store.stop_experiment
    try:
        return _public(await run_in_threadpool(do, engine, key))
    except UnknownExperiment as error:
        raise HTTPException(404, str(error)) from None
    except ExperimentConflict as error:
        raise HTTPException(409, str(error)) from None


@router.get("/{key}/assignment", response_model=AssignmentPublic, dependencies=[ReadAccess])
async def get_assignment(
    key: KeyPath, engine: EngineDep,
    user_id: Annotated[ExternalId, Query(description="The shopper's external id.")],
    expose: Annotated[bool, Query(description="Also log the exposure (call it when the "
                                              "variant is shown).")] = False,
) -> AssignmentPublic:
    """The user's variant: deterministic and sticky, the same on every replica."""
    info = await _get(engine, key)
    variant = info.design.assign(user_id)
    logged = False
    if expose and variant is not None and info.status == "running":
        logged = await run_in_threadpool(
            serving.log_exposure, engine, user_id,
            serving.Assignment(info.key, info.id, variant.name, variant.config))
    return AssignmentPublic(experiment=info.key, user_id=user_id, status=info.status,
                            in_experiment=variant is not None,
                            variant=variant.name if variant else None,
                            config=dict(variant.config) if variant else {},
                            exposure_logged=logged)


@router.get("/{key}/results", response_model=ResultsPublic, dependencies=[ReadAccess])
async def get_results(
    key: KeyPath, engine: EngineDep,
    cuped: Annotated[bool, Query(description="Adjust for pre-experiment activity.")] = False,
    alpha: Annotated[float, Query(gt=0.0, lt=0.5)] = 0.05,
) -> ResultsPublic:
    """Per variant: exposures, conversion, revenue per user, lift with intervals, tests, SRM."""
    from pigen.service.experiments.analysis import report_for

    try:
        report = await run_in_threadpool(report_for, engine, key, cuped, alpha)
    except UnknownExperiment as error:
        raise HTTPException(404, str(error)) from None
    out = report.results.to_dict()
    out["timeline"] = [p.to_dict() for p in report.timeline]
    out["plot_url"] = f"/v1/experiments/{report.info.key}/plot.png"
    return ResultsPublic.model_validate(out)


@router.get("/{key}/plot.png", dependencies=[ReadAccess],
            responses={200: {"content": {"image/png": {}}}}, response_class=Response)
async def get_plot(key: KeyPath, engine: EngineDep,
                   cuped: Annotated[bool, Query()] = False) -> Response:
    """The conversion lift over time with fixed-horizon and always-valid intervals (PNG)."""
    from pigen.service.experiments.analysis import report_for
    from pigen.service.experiments.report import plot_timeline

    def draw() -> bytes:
        report = report_for(engine, key, cuped=cuped)
        return plot_timeline(report.timeline, title=f"{report.info.key}: conversion lift")

    try:
        png = await run_in_threadpool(draw)
    except UnknownExperiment as error:
        raise HTTPException(404, str(error)) from None
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})


@page_router.get("/admin", include_in_schema=False)
async def admin_page() -> FileResponse:
    """The experiments admin page (plain HTML; its data come from the API above)."""
    return FileResponse(ADMIN_PAGE, media_type="text/html")
