"""The OpenAPI document is true (issue 13): what the service answers is what it documents.

The fast tests pin each kind of drift schemathesis found; the slow one runs
schemathesis with every check against a real server and expects no failure.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from fastapi.testclient import TestClient

from tests.utils.live_server import LiveServer

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def client(make_client: Any) -> TestClient:
    return make_client()


@pytest.fixture
def write_key(store_engine: Any) -> dict[str, str]:
    from pigen.service.auth import create_api_key

    return {"X-API-Key": create_api_key(store_engine, "admin", name="contract")[0]}


def _validator(document: dict[str, Any], path: str, method: str, status: int
               ) -> jsonschema.protocols.Validator:
    """A validator for the documented body of one answer ($refs resolved in the document)."""
    response = document["paths"][path][method]["responses"][str(status)]
    schema = response["content"]["application/json"]["schema"]
    return jsonschema.Draft202012Validator({**schema, "components": document["components"]})


def test_an_unknown_id_is_a_documented_404(client: TestClient) -> None:
    answer = client.get("/v1/items/no-such-item")
    assert answer.status_code == 404
    _validator(client.get("/openapi.json").json(), "/v1/items/{item_id}", "get",
               404).validate(answer.json())


def test_a_rule_the_schema_cannot_state_is_a_documented_422(client: TestClient,
                                                             write_key: dict[str, str]) -> None:
    body = {"interactions": [{"user_id": "shopper-000", "item_id": "no-such-item"}]}
    answer = client.post("/v1/interactions", json=body, headers=write_key)
    assert answer.status_code == 422
    assert isinstance(answer.json()["detail"], str)  # one sentence, not FastAPI's list
    _validator(client.get("/openapi.json").json(), "/v1/interactions", "post",
               422).validate(answer.json())


def test_a_body_that_is_not_json_is_a_documented_400(client: TestClient,
                                                      write_key: dict[str, str]) -> None:
    answer = client.post("/v1/interactions", content=b"\xff\xfe{", headers={
        **write_key, "Content-Type": "application/json"})
    assert answer.status_code == 400
    _validator(client.get("/openapi.json").json(), "/v1/interactions", "post",
               400).validate(answer.json())


@pytest.mark.parametrize("seed", [False, True, "7"])
def test_a_seed_must_be_a_json_number(client: TestClient, write_key: dict[str, str],
                                      seed: object) -> None:
    condition = {"category": "Dress", "colour": "#c0392b", "pattern": "solid", "seed": seed}
    answer = client.post("/v1/generate", json={"conditions": [condition]}, headers=write_key)
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"][-1] == "seed"


def test_405_allows_every_method_of_the_path(client: TestClient) -> None:
    answer = client.delete("/v1/experiments")
    assert answer.status_code == 405
    assert answer.headers["Allow"] == "GET, POST"


def test_a_path_of_another_method_is_405_not_a_422_about_its_parameters(
        client: TestClient) -> None:
    answer = client.post("/v1/experiments/spring/plot.png")  # not POST .../{action}
    assert answer.status_code == 405
    assert answer.headers["Allow"] == "GET"
    assert client.post("/v1/experiments/spring/start").status_code != 405  # still routed


def test_the_document_states_the_configured_cap(make_client: Any) -> None:
    document = make_client(max_images_per_request=6).get("/openapi.json").json()
    parameters = document["paths"]["/v1/users/{user_id}/images"]["get"]["parameters"]
    assert next(p for p in parameters if p["name"] == "n")["schema"]["maximum"] == 6


@pytest.fixture
def live(store_engine: Any, tmp_path: Path) -> Iterator[tuple[str, str]]:
    from pigen.service.app import create_app
    from pigen.service.auth import create_api_key
    from tests.service.api.conftest import api_settings

    key = create_api_key(store_engine, "admin", name="schemathesis")[0]
    app = create_app(api_settings(tmp_path, str(store_engine.url)), engine=store_engine)
    with LiveServer(app) as server:
        yield server.url, key


@pytest.mark.slow
def test_schemathesis_finds_no_failure_with_all_checks(live: tuple[str, str],
                                                      tmp_path: Path) -> None:
    url, key = live
    command = [sys.executable, "-m", "schemathesis.cli",
               "--config-file", str(ROOT / "schemathesis.toml"), "--no-color",
               "run", f"{url}/openapi.json", "--checks", "all", "-H", f"X-API-Key: {key}",
               "--seed", "13", "--max-examples", "5", "--workers", "1",
               "--generation-database", "none", "--request-timeout", "60"]
    run = subprocess.run(command, capture_output=True, text=True, timeout=1800, cwd=tmp_path)
    summary = re.findall(r"=+ (.*) =+\s*$", run.stdout)
    assert run.returncode == 0, run.stdout[-6000:]
    assert summary and "failure" not in summary[-1], summary
