"""Liveness, readiness and Prometheus metrics (unversioned, for orchestrators)."""

from __future__ import annotations

import logging
from dataclasses import asdict

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from pigen.service.api.deps import EngineDep, MetricsDep, RuntimeDep
from pigen.service.api.schemas.models import Health

log = logging.getLogger(__name__)

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
async def healthz() -> Response:
    """The process answers."""
    return JSONResponse({"status": "ok", "detail": None})


@router.get("/readyz", response_model=Health, responses={503: {"model": Health}})
async def readyz(engine: EngineDep, runtime: RuntimeDep) -> Response:
    """Ready to serve: the database answers and the models are loaded.

    ``degraded`` (still 200: it serves) means an active version would not load and
    an earlier one serves instead; ``fallback`` says which. Details meant for the
    operator (driver errors, server paths) go to the log, not to this answer.
    """
    def ping() -> None:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    try:
        await run_in_threadpool(ping)
    except Exception as error:  # any driver error means "not ready", said plainly
        log.warning("readyz: the database does not answer: %r", error)
        return JSONResponse({"status": "unavailable", "detail": "the database does not answer",
                             "fallback": []}, 503)
    if not runtime.ready:
        return JSONResponse({"status": "unavailable", "detail": runtime.not_ready_reason,
                             "fallback": []}, 503)
    fallbacks = [asdict(f) for f in runtime.fallbacks.values()]
    if fallbacks:
        kinds = ", ".join(_described(f) for f in fallbacks)
        return JSONResponse({"status": "degraded", "detail": f"serving fallback models: {kinds}",
                             "fallback": fallbacks})
    return JSONResponse({"status": "ready", "detail": None, "fallback": []})


def _described(fallback: dict) -> str:
    kind, active, serving = fallback["kind"], fallback["active"], fallback["serving"]
    if fallback["serving_kind"] and fallback["serving_kind"] != kind:
        return f"{fallback['serving_kind']} {serving} instead of {kind} {active}"
    if serving != active:
        return f"{kind} {serving} instead of {active}"
    return f"{kind} {serving} from memory (its file changed on disk)"


@router.get("/metrics", response_class=Response)
async def metrics(service_metrics: MetricsDep) -> Response:
    return Response(service_metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
