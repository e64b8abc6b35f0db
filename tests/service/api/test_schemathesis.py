"""Property-based fuzzing of the OpenAPI schema: whatever schemathesis sends, no 5xx.

Every operation of the app's schema (the routers of all teams) is one test case,
so a failure names its endpoint. Requests go to a real server (uvicorn on
loopback, lifespan and micro-batcher running) with an admin key, so write and
admin endpoints are exercised past their auth check. Bounded: valid inputs
(20 examples) and invalid ones (10) per operation.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from tests.utils.live_server import LiveServer


def _schema() -> schemathesis.BaseSchema:
    """The app's schema, built without a database or models (nothing is started)."""
    from pigen.service.app import create_app
    from pigen.service.settings import Settings

    app = create_app(Settings(_env_file=None, database_url="sqlite:///:memory:"))  # type: ignore[call-arg]
    return schemathesis.openapi.from_dict(app.openapi())


SCHEMA = _schema()
OPERATIONS = {result.ok().label: result.ok() for result in SCHEMA.get_all_operations()}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    from pigen.data.database import make_engine
    from pigen.data.migrate import upgrade_database
    from pigen.service.app import create_app
    from pigen.service.auth import create_api_key
    from tests.service.api.conftest import api_settings, store_on, tiny_generator

    root: Path = tmp_path_factory.mktemp("fuzz")
    engine = make_engine(f"sqlite:///{root / 'pigen.db'}")
    upgrade_database(engine)
    store_on(engine, root / "models", tiny_generator(root / "g.safetensors"))
    key = create_api_key(engine, "admin", "fuzzer")[0]
    app = create_app(api_settings(root, str(engine.url)), engine=engine)
    with LiveServer(app) as server:
        yield server.url, key
    engine.dispose()


@pytest.mark.slow
@pytest.mark.parametrize("label", sorted(OPERATIONS))
@pytest.mark.parametrize(("mode", "examples"), [(GenerationMode.POSITIVE, 20),
                                                (GenerationMode.NEGATIVE, 10)],
                         ids=["valid", "invalid"])
def test_no_server_errors(live: tuple[str, str], label: str, mode: GenerationMode,
                          examples: int) -> None:
    base_url, key = live
    operation = OPERATIONS[label]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def check(case: schemathesis.Case) -> None:
        response = case.call(base_url=base_url, headers={"X-API-Key": key}, timeout=60)
        assert response.status_code < 500, (
            f"{case.method} {case.formatted_path} {case.query or ''} -> "
            f"{response.status_code}: {response.text[:300]}")

    try:
        check()
    except Unsatisfiable:  # no parameters or body: nothing to make invalid
        pytest.skip(f"{label} takes no input to make invalid")
