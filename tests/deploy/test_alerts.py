"""The alert rules load, fire as their tests say, and only name metrics the service exports."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine

from pigen.service.batching import MicroBatcher
from pigen.service.metrics import ServiceMetrics

PROMETHEUS = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
SUFFIXES = {"counter": ("_total", "_created"), "gauge": ("",), "histogram": (
    "_bucket", "_count", "_sum", "_created"), "unknown": ("",)}


def promtool() -> str:
    found = shutil.which("promtool")
    if found:
        return found
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail("promtool must be installed in CI (Debian: apt-get install prometheus)")
    pytest.skip("promtool not installed (Debian: apt-get install prometheus; "
                "scripts/bootstrap.sh does it)")


def test_promtool_checks_the_rules_and_every_alert_fires_in_its_tests() -> None:
    tool = promtool()
    check = subprocess.run([tool, "check", "rules", "alerts.yml"], cwd=PROMETHEUS,
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    tested = subprocess.run([tool, "test", "rules", "alerts_test.yml"], cwd=PROMETHEUS,
                            capture_output=True, text=True, timeout=60)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    alerts = set(re.findall(r"^\s*- alert: (\w+)", (PROMETHEUS / "alerts.yml").read_text(),
                            re.MULTILINE))
    fired = set(re.findall(r"alertname: (\w+)\n\s+exp_alerts:\n\s+- exp_labels",
                           (PROMETHEUS / "alerts_test.yml").read_text()))
    assert alerts and alerts == fired  # each alert has a case where it fires
    assert {"PigenHighErrorRatio", "PigenHighLatencyP99", "PigenBatchQueueBacklog",
            "PigenShedding", "PigenModelsNotReady", "PigenModelRefreshFailing",
            "PigenCampaignStuck"} <= alerts


def exported_sample_names(registry: CollectorRegistry) -> set[str]:
    return {family.name + suffix for family in registry.collect()
            for suffix in SUFFIXES[family.type]}


def test_alerts_name_only_metrics_the_service_exports(engine: Engine) -> None:
    metrics = ServiceMetrics()
    metrics.watch_queue(MicroBatcher(lambda group, items: list(items)))
    metrics.watch_runtime(lambda: True)
    metrics.watch_campaigns(engine)  # reads the campaigns table of a real store
    exported = exported_sample_names(metrics.registry)
    named = set(re.findall(r"\bpigen_[a-z_]+\b", (PROMETHEUS / "alerts.yml").read_text()))
    assert named, "alerts.yml names no pigen metric"
    assert named <= exported, f"not exported: {sorted(named - exported)}"


def test_campaign_gauges_read_zero_on_a_store_with_no_running_campaign(engine: Engine) -> None:
    metrics = ServiceMetrics()
    metrics.watch_campaigns(engine)
    assert metrics.registry.get_sample_value("pigen_campaigns_running") == 0
    assert metrics.registry.get_sample_value("pigen_campaign_stalled_seconds") == 0


def test_the_dashboard_loads_and_names_only_exported_metrics(engine: Engine) -> None:
    import json

    dashboard = json.loads((PROMETHEUS.parent / "grafana" / "pigen.json").read_text())
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    assert len(dashboard["panels"]) >= 10 and all(exprs)
    metrics = ServiceMetrics()
    metrics.watch_queue(MicroBatcher(lambda group, items: list(items)))
    metrics.watch_runtime(lambda: True)
    metrics.watch_campaigns(engine)
    named = {name for expr in exprs for name in re.findall(r"\bpigen_[a-z_]+\b", expr)}
    assert named <= exported_sample_names(metrics.registry), named
