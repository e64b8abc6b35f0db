"""Model versions: list them, and activate one (hot swap, no request dropped)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from starlette.concurrency import run_in_threadpool

from pigen.data.model_registry import ModelVersionInfo, list_model_versions
from pigen.service.api.deps import AdminAccess, EngineDep, ReadAccess, RuntimeDep
from pigen.service.api.schemas.models import ActivateRequest, ModelsPublic, ModelVersionPublic

router = APIRouter(prefix="/models", tags=["models"])

SERVED_KINDS = ("als", "generator")


def _public(version: ModelVersionInfo, serving: dict[str, int]) -> ModelVersionPublic:
    return ModelVersionPublic(id=version.id, kind=version.kind, active=version.is_active,
                              serving=serving.get(version.kind) == version.id,
                              file=version.path.name, created_at=version.created_at,
                              metrics=version.metrics)


@router.get("", response_model=ModelsPublic, dependencies=[ReadAccess])
async def get_models(engine: EngineDep, runtime: RuntimeDep) -> ModelsPublic:
    """Every version of the kinds the service serves, newest first, and what it serves now."""
    serving = runtime.current.versions
    versions = await run_in_threadpool(list_model_versions, engine)
    return ModelsPublic(serving=serving, versions=[
        _public(v, serving) for v in versions if v.kind in SERVED_KINDS])


@router.post("", response_model=ModelsPublic, dependencies=[AdminAccess])
async def activate_model(body: ActivateRequest, engine: EngineDep, runtime: RuntimeDep
                         ) -> ModelsPublic:
    """Make a version active and serve with it; requests in flight finish on the old one."""
    versions = {v.id: v for v in await run_in_threadpool(list_model_versions, engine)}
    version = versions.get(body.id)
    if version is None or version.kind not in SERVED_KINDS:
        raise HTTPException(404, f"no model version {body.id} of a served kind "
                                 f"({', '.join(SERVED_KINDS)})")
    try:
        await runtime.activate(body.id)
    except (FileNotFoundError, ValueError) as error:
        raise HTTPException(409, f"version {body.id} cannot be served: {error}") from None
    return await get_models(engine, runtime)
