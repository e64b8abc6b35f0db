"""The bound on requests in flight: refused at once past it, probes never refused."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from pigen.service.metrics import ServiceMetrics
from pigen.service.middleware import InflightLimit


def held_app(release: asyncio.Event, entered: list[str]) -> Starlette:
    async def slow(request: Request) -> PlainTextResponse:
        entered.append(request.url.path)
        await release.wait()
        return PlainTextResponse("done")

    return Starlette(routes=[Route("/slow", slow), Route("/healthz", slow)])


def test_past_the_bound_a_request_is_503_at_once_and_the_bound_frees_up() -> None:
    metrics = ServiceMetrics()

    async def main() -> None:
        release = asyncio.Event()
        entered: list[str] = []
        app = InflightLimit(held_app(release, entered), max_inflight=2, metrics=metrics)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            held = [asyncio.create_task(http.get("/slow")) for _ in range(2)]
            while len(entered) < 2:
                await asyncio.sleep(0.001)
            refused = await http.get("/slow")  # answered while the two are still held
            assert refused.status_code == 503
            assert refused.headers["Retry-After"] == "1"
            assert "in flight" in refused.json()["detail"]
            assert len(entered) == 2  # the refused one never reached the app
            probe = asyncio.create_task(http.get("/healthz"))  # probes are never refused
            while len(entered) < 3:
                await asyncio.sleep(0.001)
            release.set()
            assert [r.status_code for r in await asyncio.gather(*held, probe)] == [200] * 3
            assert app.inflight == 0
            assert (await http.get("/slow")).status_code == 200  # room again

    asyncio.run(main())
    assert 'pigen_shed_total{reason="inflight"} 1.0' in metrics.exposition().decode()


def test_an_app_that_fails_frees_its_place() -> None:
    async def broken(scope, receive, send):  # type: ignore[no-untyped-def]
        raise RuntimeError("boom")

    limit = InflightLimit(broken, max_inflight=1, metrics=ServiceMetrics())
    scope = {"type": "http", "path": "/x", "method": "GET", "headers": []}
    with pytest.raises(RuntimeError):
        asyncio.run(limit(scope, None, None))  # type: ignore[arg-type]
    assert limit.inflight == 0


def test_the_bound_is_checked() -> None:
    with pytest.raises(ValueError, match="max_inflight"):
        InflightLimit(held_app(asyncio.Event(), []), max_inflight=0, metrics=ServiceMetrics())


def test_the_app_bounds_requests_in_flight_by_its_setting(
        make_client: Callable[..., TestClient]) -> None:
    client = make_client(max_inflight_requests=3)
    limit = _find(client.app, InflightLimit)
    assert limit.max_inflight == 3
    assert client.get("/v1/users").status_code == 200
    limit.inflight = 3  # as if three requests were being served
    refused = client.get("/v1/users")
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "1"
    assert client.get("/healthz").status_code == 200
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    assert 'pigen_shed_total{reason="inflight"} 1.0' in metrics.text
    limit.inflight = 0
    assert client.get("/v1/users").status_code == 200


def _find(app: object, kind: type) -> InflightLimit:
    layer = getattr(app, "middleware_stack", None)
    while layer is not None:
        if isinstance(layer, kind):
            return layer  # type: ignore[return-value]
        layer = getattr(layer, "app", None)
    raise AssertionError(f"no {kind.__name__} in the app's middleware")
