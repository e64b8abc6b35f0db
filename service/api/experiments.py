"""A/B experiments: define, start and stop them; assignments; results and their plot."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Response
from fastapi import Path as PathParam
from starlette.concurrency import run_in_threadpool

from pigen.service.api.deps import (
    AdminAccess,
    EngineDep,
    ReadAccess,
    SettingsDep,
    exposing_with_write_key,
)
from pigen.service.api.schemas.experiments import (
    AssignmentPublic,
    ExperimentCreate,
    ExperimentList,
    ExperimentPublic,
    ResultsPublic,
)
from pigen.service.api.schemas.fields import ExternalId
from pigen.service.experiments import serving, store
from pigen.service.experiments.assignment import Variant
from pigen.service.experiments.store import ExperimentConflict, ExperimentInfo, UnknownExperiment

router = APIRouter(prefix="/experiments", tags=["experiments"])

KeyPath = Annotated[str, PathParam(min_length=1, max_length=64,
                                   description="The experiment's key, e.g. hero-image.")]


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
async def create_experiment(body: ExperimentCreate, engine: EngineDep,
                            settings: SettingsDep) -> ExperimentPublic:
    """Define an experiment (in draft). 409 when the key is taken; 422 when a variant's
    config would not be served as written (unknown key, n over the cap, unknown generator)."""
    try:
        variants = [Variant(v.name, v.weight, v.config) for v in body.variants]
        info = await run_in_threadpool(
            lambda: store.create_experiment(
                engine, body.key, variants, body.description, body.coverage,
                max_images_per_request=settings.max_images_per_request))
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
    expose: Annotated[bool, Depends(exposing_with_write_key)],
) -> AssignmentPublic:
    """The user's variant: deterministic and sticky, the same on every replica.

    ``expose=true`` also logs the exposure (call it when the variant is shown):
    a write, so it needs a ``write`` key; the image endpoints log their own.
    """
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

