"""What routes receive through ``Depends``: settings, engine, models, images, the caller.

Everything comes from ``app.state`` (set up once by ``create_app``/its lifespan),
so tests override any of it with ``app.dependency_overrides``. The getters are
``async def`` although they never await: FastAPI runs a plain ``def`` dependency
in its thread pool, and three thread hops per request cost more than the lookup.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Query, Request, status
from sqlalchemy import Engine

from pigen.service.auth import Principal, verify_api_key
from pigen.service.imaging import ImageService
from pigen.service.metrics import ServiceMetrics
from pigen.service.runtime import Runtime
from pigen.service.settings import Settings


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_engine(request: Request) -> Engine:
    return request.app.state.engine


async def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


async def get_images(request: Request) -> ImageService:
    return request.app.state.images


async def get_metrics(request: Request) -> ServiceMetrics:
    return request.app.state.metrics


SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
ImagesDep = Annotated[ImageService, Depends(get_images)]
MetricsDep = Annotated[ServiceMetrics, Depends(get_metrics)]


def _presented_key(x_api_key: str | None, authorization: str | None) -> str | None:
    if x_api_key:
        return x_api_key
    if authorization and authorization.lower().startswith("bearer "):
        return authorization[7:].strip() or None
    return None


def require_scope(scope: str, only_if_configured: bool = False
                  ) -> Callable[..., Awaitable[Principal | None]]:
    """A dependency admitting callers whose key grants ``scope``.

    401 without a (valid) key, 403 with a key that lacks the scope. With
    ``only_if_configured`` (reads) the check applies only under
    ``PIGEN_REQUIRE_READ_KEY``.
    """

    async def check(
        settings: SettingsDep,
        engine: EngineDep,
        x_api_key: Annotated[str | None, Header(max_length=256, include_in_schema=False)
                             ] = None,
        authorization: Annotated[str | None, Header(max_length=300, include_in_schema=False)
                                 ] = None,
    ) -> Principal | None:
        if only_if_configured and not settings.require_read_key:
            return None
        key = _presented_key(x_api_key, authorization)
        if key is None:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED,
                                f"an API key with the '{scope}' scope is required "
                                "(X-API-Key header)", headers={"WWW-Authenticate": "ApiKey"})
        principal = await asyncio.to_thread(verify_api_key, engine, key, settings.api_keys)
        if principal is None:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "unknown or revoked API key",
                                headers={"WWW-Authenticate": "ApiKey"})
        if not principal.allows(scope):
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                f"this key has the '{principal.scope}' scope; "
                                f"this needs '{scope}'")
        return principal

    return check


ReadAccess = Depends(require_scope("read", only_if_configured=True))
WriteAccess = Depends(require_scope("write"))
AdminAccess = Depends(require_scope("admin"))

_check_write = require_scope("write")


async def exposing_with_write_key(
    settings: SettingsDep,
    engine: EngineDep,
    expose: Annotated[bool, Query(description="Also log the exposure (a write: needs a key "
                                              "with the 'write' scope).")] = False,
    x_api_key: Annotated[str | None, Header(max_length=256, include_in_schema=False)] = None,
    authorization: Annotated[str | None, Header(max_length=300, include_in_schema=False)
                             ] = None,
) -> bool:
    """The ``expose`` flag of a read endpoint, admitted only with a ``write`` key.

    Logging an exposure changes an experiment's results, so anonymous callers
    may ask for an assignment but not record one (401/403 as for any write).
    """
    if expose:
        try:
            await _check_write(settings, engine, x_api_key, authorization)
        except HTTPException as refused:
            raise HTTPException(refused.status_code, "expose=true logs an exposure, a write: "
                                f"{refused.detail}", headers=refused.headers) from None
    return expose
