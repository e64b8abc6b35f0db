"""What the alerts read: model readiness, refresh outcomes and campaign gauges at /metrics."""

from __future__ import annotations

import time
from collections.abc import Callable

from fastapi.testclient import TestClient


def scrape(client: TestClient) -> str:
    response = client.get("/metrics")
    assert response.status_code == 200
    return response.text


def test_metrics_report_ready_models_refreshes_and_campaigns(
        make_client: Callable[..., TestClient]) -> None:
    client = make_client(model_refresh_seconds=0.05)
    deadline = time.monotonic() + 60
    while 'pigen_model_refresh_total{outcome="ok"}' not in (text := scrape(client)):
        assert time.monotonic() < deadline, "no refresh counted in 60 s"
        time.sleep(0.05)
    assert "pigen_models_ready 1.0" in text
    assert "pigen_model_refresh_last_success_timestamp_seconds " in text
    assert 'pigen_model_refresh_total{outcome="failed"}' not in text
    assert "pigen_campaigns_running 0.0" in text
    assert "pigen_campaign_stalled_seconds 0.0" in text
