"""ASGI middleware of the app: request latency metrics, the request-body limit and the
bound on requests in flight."""

from __future__ import annotations

import json
import time

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pigen.service.metrics import ServiceMetrics

#: Paths never refused for load: probes and scrapes must see an overloaded server as it is.
UNBOUNDED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class RequestMetrics:
    """Observe each HTTP request's latency under its route template (not the raw path)."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics, templates: dict[int, str]
                 ) -> None:
        self.app = app
        self.metrics = metrics
        self.templates = templates  # id(endpoint) -> full path template

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            # The full route template (with its router's prefix), found by endpoint;
            # unmatched paths share one label, so scanners cannot blow up the series.
            template = self.templates.get(id(scope.get("endpoint")), "unmatched")
            self.metrics.request_seconds.labels(scope["method"], template, str(status)).observe(
                time.perf_counter() - started)


class BodyLimit:
    """Answer 413 to request bodies over ``max_bytes`` (declared or streamed)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = self.max_bytes + 1
                if declared > self.max_bytes:
                    await self._reject(send)
                    return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:  # a streamed body without a length
                    raise HTTPException(413, f"request body over {self.max_bytes} bytes")
            return message

        await self.app(scope, limited_receive, send)

    async def _reject(self, send: Send) -> None:
        body = json.dumps({"detail": f"request body over {self.max_bytes} bytes"}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class InflightLimit:
    """Answer 503 + ``Retry-After`` at once while ``max_inflight`` requests are being served.

    The micro-batcher bounds the generator's queue, but a request waits before it
    gets there too: for the event loop, the thread pool, the database. Past this
    bound new requests are refused before any of that work, so the ones accepted
    are not slowed by a backlog without end. Counted as ``pigen_shed_total{reason=
    "inflight"}``; probes and ``/metrics`` are never refused.
    """

    def __init__(self, app: ASGIApp, max_inflight: int, metrics: ServiceMetrics) -> None:
        if max_inflight < 1:
            raise ValueError(f"max_inflight must be >= 1, got {max_inflight}")
        self.app = app
        self.max_inflight = max_inflight
        self.metrics = metrics
        self.inflight = 0  # one event loop: no lock needed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNBOUNDED_PATHS:
            await self.app(scope, receive, send)
            return
        if self.inflight >= self.max_inflight:
            self.metrics.observe_shed("inflight")
            await _refuse(send)
            return
        self.inflight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.inflight -= 1


_BUSY = json.dumps({"detail": "the server has too many requests in flight; retry in 1 s"}
                   ).encode()


async def _refuse(send: Send) -> None:
    await send({"type": "http.response.start", "status": 503,
                "headers": [(b"content-type", b"application/json"), (b"retry-after", b"1"),
                            (b"content-length", str(len(_BUSY)).encode())]})
    await send({"type": "http.response.body", "body": _BUSY})
