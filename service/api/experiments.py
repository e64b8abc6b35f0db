"""A/B experiments: define, start and stop them; assignments; results and their plot."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Response
from fastapi import Path as PathParam
from starlette.concurrency import run_in_threadpool

from pigen.service.api.deps import (
    AdminAccess,
    EngineDep,
    ImagesDep,
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
    SamplePublic,
    SamplesPublic,
)
from pigen.service.api.schemas.fields import ExternalId
from pigen.service.experiments import serving, store
from pigen.service.experiments.assignment import Variant
from pigen.service.experiments.plan import AnalysisPlan
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
        plan = AnalysisPlan.from_dict(body.plan.model_dump()) if body.plan else None
        info = await run_in_threadpool(
            lambda: store.create_experiment(
                engine, body.key, variants, body.description, body.coverage,
                max_images_per_request=settings.max_images_per_request, plan=plan))
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
    cuped: Annotated[Literal["none", "single", "multi"], Query(
        description="CUPED: none, single (each metric's own pre-period) or multi (every "
                    "metric's pre-period plus assignment-time attributes).")] = "none",
    alpha: Annotated[float, Query(gt=0.0, lt=0.5)] = 0.05,
    dimension: Annotated[str, Query(min_length=1, max_length=64, pattern=r"^[a-z_]+$",
                                    description="Break results down by new_vs_returning or "
                                                "a users column.")] = "new_vs_returning",
) -> ResultsPublic:
    """Every planned metric per variant with corrected intervals, decisions, SRM (overall and
    per dimension value), CUPED variance removed, and the lift over time."""
    from pigen.service.experiments.analysis import report_for

    try:
        report = await run_in_threadpool(
            lambda: report_for(engine, key, cuped=cuped, alpha=alpha, dimension=dimension))
    except UnknownExperiment as error:
        raise HTTPException(404, str(error)) from None
    except store.UnknownDimension as error:
        raise HTTPException(422, str(error)) from None
    out = report.results.to_dict()
    out["timeline"] = [p.to_dict() for p in report.timeline]
    out["plot_url"] = f"/v1/experiments/{report.info.key}/plot.png"
    return ResultsPublic.model_validate(out)


@router.get("/{key}/plot.png", dependencies=[ReadAccess],
            responses={200: {"content": {"image/png": {}}}}, response_class=Response)
async def get_plot(key: KeyPath, engine: EngineDep) -> Response:
    """The primary metric's lift over time with fixed-horizon and always-valid intervals."""
    from pigen.service.experiments.analysis import report_for
    from pigen.service.experiments.report import plot_timeline

    def draw() -> bytes:
        report = report_for(engine, key)
        return plot_timeline(report.timeline,
                             title=f"{report.info.key}: {report.info.plan.primary} lift")

    try:
        png = await run_in_threadpool(draw)
    except UnknownExperiment as error:
        raise HTTPException(404, str(error)) from None
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})



#: The shopper every variant's samples are drawn for: unknown, so the same prior taste
#: and the same seeds give the same conditions in every arm, and only the generator differs.
SAMPLE_USER = "experiment-sample"


@router.get("/{key}/samples", response_model=SamplesPublic, dependencies=[ReadAccess],
            responses={404: {"description": "No experiment with this key."},
                       409: {"description": "A variant's generator is gone or broken."}})
async def get_samples(
    key: KeyPath, engine: EngineDep, images: ImagesDep,
    n: Annotated[int, Query(ge=1, le=8, description="Images per variant.")] = 4,
) -> SamplesPublic:
    """Each variant's sample images for one fixed shopper and seed, to compare side by side
    (a generator-vs-generator experiment shows the same conditions from both generators)."""
    from pigen.service.api.images import image_public
    from pigen.service.imaging import MadeImage
    from pigen.service.model_loading import ModelLoadError

    info = await _get(engine, key)
    samples = []
    for variant in info.variants:
        mode = variant.config.get("mode", "generated")
        version = variant.config.get("generator_version")
        made: tuple[MadeImage, ...] = ()
        if mode == "generated":
            try:
                made = (await run_in_threadpool(images.images_for_user, SAMPLE_USER, n, 0, 1.0,
                                                version)).images
            except (LookupError, ModelLoadError) as error:
                raise HTTPException(409, f"variant {variant.name}: {error}") from None
        samples.append(SamplePublic(variant=variant.name, mode=mode, generator_version=version,
                                    images=[image_public(m) for m in made]))
    return SamplesPublic(experiment=info.key, user_id=SAMPLE_USER, samples=samples)
