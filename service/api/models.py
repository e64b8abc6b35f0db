"""Model versions: list them, and activate one (hot swap, no request dropped)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from starlette.concurrency import run_in_threadpool

from pigen.data.model_registry import ModelVersionInfo, list_model_versions
from pigen.service.api.deps import AdminAccess, EngineDep, ReadAccess, RuntimeDep
from pigen.service.api.schemas.models import ActivateRequest, ModelsPublic, ModelVersionPublic
from pigen.service.model_loading import KINDS, ModelLoadError

router = APIRouter(prefix="/models", tags=["models"])

SERVED_KINDS = KINDS


def _public(version: ModelVersionInfo, serving: dict[str, int]) -> ModelVersionPublic:
    return ModelVersionPublic(id=version.id, kind=version.kind, active=version.is_active,
                              serving=serving.get(version.kind) == version.id,
                              file=version.path.name, created_at=version.created_at,
                              metrics=version.metrics)


@router.get("", response_model=ModelsPublic, dependencies=[ReadAccess])
async def get_models(engine: EngineDep, runtime: RuntimeDep) -> ModelsPublic:
    """Every version of the kinds the service serves, newest first, and what it serves now."""
    serving = runtime.serving_versions  # works when nothing serves: rollback stays possible
    versions = await run_in_threadpool(list_model_versions, engine)
    return ModelsPublic(serving=serving, versions=[
        _public(v, serving) for v in versions if v.kind in SERVED_KINDS])


@router.post("", response_model=ModelsPublic, dependencies=[AdminAccess],
             responses={404: {"description": "No such version of a served kind."},
                        409: {"description": "The version's file does not load or fails a "
                                             "test inference; nothing changed."}})
async def activate_model(body: ActivateRequest, engine: EngineDep, runtime: RuntimeDep
                         ) -> ModelsPublic:
    """Load and test a version, then make it active and serve with it.

    Requests in flight finish on the old one. A version whose file does not load,
    or whose model fails a test inference, is refused (409) and the registry is
    left as it was.
    """
    versions = {v.id: v for v in await run_in_threadpool(list_model_versions, engine)}
    version = versions.get(body.id)
    if version is None or version.kind not in SERVED_KINDS:
        raise HTTPException(404, f"no model version {body.id} of a served kind "
                                 f"({', '.join(SERVED_KINDS)})")
    try:
        await runtime.activate(body.id)
    except ModelLoadError as error:  # its message names the file, never a server path
        raise HTTPException(409, f"cannot serve {error}; nothing changed") from None
    return await get_models(engine, runtime)
