"""Outages a client can wait out, answered as such: the database is down, the disk is full.

Without these a lost PostgreSQL connection or a full image store surfaced as a
500 (and uvicorn dropped the connection). Now the client gets 503 or 507 with
``Retry-After`` and a sentence it can act on; the driver's or the OS's own text,
with hosts and paths, goes to the log only. Nothing needs a restart afterwards:
the engine's pool replaces dead connections (``pool_pre_ping`` on PostgreSQL).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import exc

from pigen.service.image_store import ImageStoreFull

log = logging.getLogger(__name__)

#: Seconds a client should wait before retrying: a database restart or failover ...
DATABASE_RETRY_AFTER_S = 5
#: ... and an operator freeing disk space.
STORAGE_RETRY_AFTER_S = 60


def database_unreachable(error: BaseException) -> bool:
    """True for errors that mean "no working connection", not "this statement is wrong"."""
    if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
        return True
    # OperationalError: connection refused or lost, server shutting down, timeouts,
    # SQLite "database is locked"; InterfaceError: a connection already closed;
    # TimeoutError: no pooled connection came free.
    return isinstance(error, exc.OperationalError | exc.InterfaceError | exc.TimeoutError)


def add_outage_handlers(app: FastAPI) -> None:
    """Answer database and storage outages with 503 / 507 and ``Retry-After``."""

    async def database_down(request: Request, error: Exception) -> JSONResponse:
        if not database_unreachable(error):
            raise error  # a bug, not an outage: the 500 it is
        log.warning("%s %s: the database is unavailable: %s", request.method, request.url.path,
                    error)
        return JSONResponse({"detail": "the database is unavailable; retry shortly"}, 503,
                            headers={"Retry-After": str(DATABASE_RETRY_AFTER_S)})

    async def storage_full(request: Request, error: Exception) -> JSONResponse:
        log.error("%s %s: %s (%s)", request.method, request.url.path, error, error.__cause__)
        return JSONResponse({"detail": "the image store is full: new images cannot be saved "
                                       "until space is freed"}, 507,
                            headers={"Retry-After": str(STORAGE_RETRY_AFTER_S)})

    app.add_exception_handler(exc.DBAPIError, database_down)
    app.add_exception_handler(exc.TimeoutError, database_down)
    app.add_exception_handler(ImageStoreFull, storage_full)
