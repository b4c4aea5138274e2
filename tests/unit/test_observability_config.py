"""The compose `observability` profile cannot run here (no Docker): check its files against the code.

Every metric the Grafana dashboard queries is one ``core.metrics`` defines (and every metric defined is
on the dashboard); Prometheus scrapes each Budgie service on the port that service serves /metrics on.
"""

import json
import re
from pathlib import Path

import yaml
from prometheus_client import Counter, Gauge, Histogram

from core import metrics

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = json.loads((ROOT / "ops/grafana/dashboards/budgie.json").read_text())
PROMETHEUS = yaml.safe_load((ROOT / "ops/prometheus/prometheus.yml").read_text())
SERVICES = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


def exposed_series() -> dict[str, str]:
    """Every series name ``core.metrics`` can expose -> the metric family it belongs to."""
    names: dict[str, str] = {}
    for value in vars(metrics).values():
        if isinstance(value, Counter):
            names[f"{value._name}_total"] = value._name
        elif isinstance(value, Histogram):
            names.update({f"{value._name}{s}": value._name for s in ("_bucket", "_count", "_sum")})
        elif isinstance(value, Gauge):
            names[value._name] = value._name
    names[metrics.QUEUE_DEPTH] = metrics.QUEUE_DEPTH
    names[metrics.JOBS_ACTIVE] = metrics.JOBS_ACTIVE
    names[f"{metrics.JOBS_FINISHED}_total"] = metrics.JOBS_FINISHED
    return names


def dashboard_queries() -> list[str]:
    exprs = []
    for panel in DASHBOARD["panels"]:
        for target in panel.get("targets", []):
            exprs.append(target["expr"])
    return exprs


def test_dashboard_queries_only_metrics_the_code_defines_and_shows_them_all():
    exposed = exposed_series()
    queried = {name for expr in dashboard_queries() for name in re.findall(r"\bbudgie_[a-z0-9_]+", expr)}
    assert queried, "the dashboard has no Budgie query"
    unknown = sorted(queried - set(exposed))
    assert unknown == [], f"the dashboard queries metrics core.metrics does not define: {unknown}"
    missing = sorted(set(exposed.values()) - {exposed[name] for name in queried})
    assert missing == [], f"metrics with no panel: {missing}"


def test_dashboard_panels_use_the_provisioned_datasource():
    datasource = yaml.safe_load((ROOT / "ops/grafana/provisioning/datasources/prometheus.yml").read_text())
    uid = datasource["datasources"][0]["uid"]
    assert DASHBOARD["uid"] and DASHBOARD["title"]
    for panel in DASHBOARD["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == uid, panel["title"]
            assert panel["targets"], panel["title"]
    ids = [p["id"] for p in DASHBOARD["panels"]]
    assert len(ids) == len(set(ids))


def metrics_port(service: dict) -> int:
    env = service.get("environment", {})
    if "BUDGIE_METRICS_PORT" in env:
        return int(env["BUDGIE_METRICS_PORT"])
    if "WORKER_PORT" in env:  # the streaming worker serves /metrics next to its WebSocket
        return int(env["WORKER_PORT"])
    return 8000  # the API


def test_prometheus_scrapes_every_budgie_process_where_it_serves_metrics():
    targets = {t for job in PROMETHEUS["scrape_configs"] for c in job["static_configs"] for t in c["targets"]}
    budgie = {name: s for name, s in SERVICES.items() if "build" in s and not s.get("profiles")}
    expected = {f"{name}:{metrics_port(s)}" for name, s in budgie.items()}
    assert expected == targets


def test_compose_observability_profile_provisions_prometheus_and_grafana():
    prometheus, grafana = SERVICES["prometheus"], SERVICES["grafana"]
    assert prometheus["profiles"] == ["observability"] and grafana["profiles"] == ["observability"]
    mounts = {
        m.split(":")[0]: m.split(":")[1] for m in prometheus["volumes"] + grafana["volumes"] if m.startswith("./")
    }
    assert mounts["./ops/prometheus/prometheus.yml"] == "/etc/prometheus/prometheus.yml"
    assert mounts["./ops/grafana/provisioning"] == "/etc/grafana/provisioning"
    assert mounts["./ops/grafana/dashboards"] == "/var/lib/grafana/dashboards"
    for local in mounts:
        assert (ROOT / local).exists(), local
    for service in (prometheus, grafana):
        assert all(p.startswith("127.0.0.1:") for p in service["ports"]), "reach them over SSH, not the network"
