"""The HTTP service: ``create_app(settings)`` builds one app; nothing happens at import.

Settings are validated when the app is created; the lifespan migrates the
database, loads the catalog and the active models once, sets the generator's
threads and starts the micro-batcher. Routers are listed in :data:`ROUTERS`,
one line per resource.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine

from pigen.service.api import (
    admin,
    campaigns,
    events,
    experiments,
    generate,
    health,
    images,
    interactions,
    items,
    models,
    users,
)
from pigen.service.batching import Overloaded
from pigen.service.docs_pages import add_docs_pages
from pigen.service.image_store import ImageFiles
from pigen.service.imaging import ImageService
from pigen.service.metrics import ServiceMetrics
from pigen.service.middleware import BodyLimit, InflightLimit, RequestMetrics
from pigen.service.openapi_contract import keep_contract
from pigen.service.outages import add_outage_handlers
from pigen.service.runtime import ModelsNotReady, Runtime
from pigen.service.settings import Settings, get_settings

log = logging.getLogger(__name__)

WEB_DIR = Path(__file__).parent / "web"

#: (router, prefix): every resource of the API. Add yours with one line.
ROUTERS: list[tuple[APIRouter, str]] = [
    (health.router, ""),
    (users.router, "/v1"),
    (items.router, "/v1"),
    (images.router, "/v1"),
    (generate.router, "/v1"),
    (interactions.router, "/v1"),
    (models.router, "/v1"),
    (experiments.router, "/v1"), (events.router, "/v1"), (admin.router, ""),
    (campaigns.router, "/v1"),
]


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    """The pigen API for ``settings`` (default: the environment's ``PIGEN_*``).

    ``engine`` overrides the settings' database (tests pass their own).
    """
    settings = settings or get_settings()  # invalid settings fail here, at start-up
    if engine is None:
        from pigen.data.database import make_engine

        engine = make_engine(settings.resolved_database_url, settings.engine_options)
    metrics = ServiceMetrics()
    runtime = Runtime(engine, settings,
                      on_fallback=lambda kind: metrics.model_fallbacks.labels(kind=kind).inc())
    files = ImageFiles(settings.images_dir,
                       on_corrupt=lambda _: metrics.image_cache.labels("corrupt").inc())
    image_service = ImageService(engine, runtime, files, metrics,
                                 settings.batch_max_size, settings.batch_max_wait_ms,
                                 settings.batch_max_queue, settings.batch_timeout_seconds,
                                 unfetched_kept=settings.max_unfetched_images,
                                 listed_cache_bytes=settings.listed_cache_bytes)
    metrics.watch_queue(image_service.batcher)
    metrics.watch_listed_cache(lambda: image_service.listed.size_bytes)
    metrics.watch_runtime(lambda: runtime.ready)
    metrics.watch_campaigns(engine)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(_prepare, engine, settings, runtime)
        await asyncio.to_thread(_remove_partial_writes, image_service.files)
        await image_service.batcher.start()
        refresher = (asyncio.create_task(_follow_registry(runtime, settings.model_refresh_seconds,
                                                          metrics))
                     if settings.model_refresh_seconds > 0 else None)
        try:
            yield
        finally:
            if refresher is not None:
                refresher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await refresher
            await image_service.batcher.stop()

    app = FastAPI(title="pigen", version="1", lifespan=lifespan,
                  summary="Personalised product images from shoppers' ratings.",
                  docs_url=None, redoc_url=None)  # served by add_docs_pages, offline
    app.state.settings = settings
    app.state.engine = engine
    app.state.runtime = runtime
    app.state.images = image_service
    app.state.metrics = metrics
    for router, prefix in ROUTERS:
        app.include_router(router, prefix=prefix)
    _add_handlers(app)
    add_docs_pages(app)
    add_outage_handlers(app)
    keep_contract(app, settings)  # the OpenAPI document says what routes really answer
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins,
                           allow_methods=["GET", "POST"],
                           allow_headers=["Content-Type", "X-API-Key", "Authorization"])
    templates = {id(route.endpoint): prefix + route.path
                 for router, prefix in ROUTERS for route in router.routes
                 if isinstance(route, APIRoute)}
    app.add_middleware(RequestMetrics, metrics=metrics, templates=templates)
    # Outermost: a request refused for load costs as little as a request can.
    app.add_middleware(InflightLimit, max_inflight=settings.max_inflight_requests,
                       metrics=metrics)
    app.mount("/demo", StaticFiles(directory=WEB_DIR, html=True), name="demo")

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/demo/")

    return app


def _prepare(engine: Engine, settings: Settings, runtime: Runtime) -> None:
    """Blocking start-up work: schema, thread counts, models.

    BLAS and torch thread counts are process-wide: they are set here, once, and
    never per request (concurrent requests would race on one global value).
    """
    from pigen.data.migrate import upgrade_database
    from pigen.recsys.blas import pin_single_threaded_blas

    upgrade_database(engine)
    import torch

    pin_single_threaded_blas()
    torch.set_num_threads(settings.generator_threads)
    runtime.load()


def _remove_partial_writes(files: ImageFiles) -> None:
    """A killed server leaves half-written temporary files; they are never served, only swept."""
    removed = files.remove_partial_writes()
    if removed:
        log.warning("removed %d partial image writes left by an earlier run", removed)


async def _follow_registry(runtime: Runtime, every_seconds: float,
                           metrics: ServiceMetrics) -> None:
    while True:
        await asyncio.sleep(every_seconds)
        try:
            await runtime.refresh()
        except Exception as error:  # a failed refresh keeps serving the current models
            log.warning("model refresh failed: %s", error)
            metrics.observe_refresh(ok=False)
        else:
            metrics.observe_refresh(ok=True)


def _add_handlers(app: FastAPI) -> None:
    @app.exception_handler(Overloaded)
    async def overloaded(request: Request, error: Overloaded) -> JSONResponse:
        # Shed, not failed: the client may retry; counted in pigen_shed_total.
        return JSONResponse({"detail": str(error)}, 503,
                            headers={"Retry-After": str(error.retry_after_s)})

    @app.exception_handler(ModelsNotReady)
    async def models_not_ready(request: Request, error: ModelsNotReady) -> JSONResponse:
        return JSONResponse({"detail": f"the service has no models yet: {error}"}, 503,
                            headers={"Retry-After": "30"})

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        # FastAPI's list of errors, plus one line a person can read.
        problems = error.errors()
        message = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', 'invalid')}"
            for e in problems[:5])
        return JSONResponse({"detail": jsonable_encoder(problems, exclude={"ctx", "input"}),
                             "message": message}, 422)
