"""Liveness, readiness and Prometheus metrics (unversioned, for orchestrators)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from pigen.service.api.deps import EngineDep, MetricsDep, RuntimeDep
from pigen.service.api.schemas.models import Health

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """The process answers."""
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses={503: {"model": Health}})
async def readyz(engine: EngineDep, runtime: RuntimeDep) -> Response:
    """Ready to serve: the database answers and the models are loaded."""
    def ping() -> None:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    try:
        await run_in_threadpool(ping)
    except Exception as error:  # any driver error means "not ready", said plainly
        return JSONResponse({"status": "unavailable", "detail": f"database: {error}"}, 503)
    if not runtime.ready:
        return JSONResponse({"status": "unavailable", "detail": runtime.not_ready_reason}, 503)
    return JSONResponse({"status": "ready", "detail": None})


@router.get("/metrics", response_class=Response)
async def metrics(service_metrics: MetricsDep) -> Response:
    return Response(service_metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
