"""Every metric the Grafana dashboard and the alert rules query is one jobline exposes.

A running `jobline serve` (real PostgreSQL and Kafka, own schema, topics and group) runs
one job so that labelled metrics have samples; its /metrics is compared with the names
in deploy/grafana/jobline.json and deploy/prometheus/alerts.yml.
"""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator

import yaml

from jobline import JobMessage, Jobs
from jobline.config import Settings
from tests.integration.helpers import ServeProcess, add_config, wait_until

from .conftest import ROOT

DASHBOARD = ROOT / "deploy" / "grafana" / "jobline.json"
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"

# Queried on purpose from other exporters, each named with the one that exposes it.
EXTERNAL = {
    "pg_stat_activity_count": "postgres_exporter (connections per database)",
    "pg_settings_max_connections": "postgres_exporter (the server's max_connections)",
    "kafka_consumergroup_lag": "kafka_exporter (the intake group's lag per partition)",
}
PROMQL_WORDS = {"by", "without", "and", "or", "unless", "on", "ignoring", "group_left"}
PROMQL_WORDS |= {"group_right", "bool", "offset", "inf", "nan"}
SUFFIXES = {"counter": ("",), "gauge": ("",), "histogram": ("_bucket", "_sum", "_count")}
SUFFIXES["summary"] = ("", "_sum", "_count")


def metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression (not functions, keywords, labels or variables)."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings (label values, regexes)
    expr = re.sub(r"\{[^}]*\}", " ", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", " ", expr)  # ranges, $__rate_interval included
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    expr = re.sub(r"\$\{?\w+\}?", " ", expr)  # dashboard variables
    names = set()
    for match in re.finditer(r"(?<![\w.])([a-zA-Z_:][\w:]*)(\s*\()?", expr):
        word, is_call = match.group(1), match.group(2)
        if not is_call and word.lower() not in PROMQL_WORDS:
            names.add(word)
    return names


def _dashboard_exprs(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("expr", "definition") and isinstance(value, str):
                yield value
            else:
                yield from _dashboard_exprs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _dashboard_exprs(item)


def queried_names() -> dict[str, set[str]]:
    """Metric name -> where it is queried."""
    where: dict[str, set[str]] = {}
    for expr in _dashboard_exprs(json.loads(DASHBOARD.read_text())):
        for name in metric_names(re.sub(r"label_values\((\w+),.*\)", r"\1", expr)):
            where.setdefault(name, set()).add("dashboard")
    for group in yaml.safe_load(ALERTS.read_text())["groups"]:
        for rule in group["rules"]:
            for name in metric_names(rule["expr"]):
                where.setdefault(name, set()).add(f"alert {rule['alert']}")
    return where


def exposed_names(metrics_text: str) -> tuple[set[str], set[str]]:
    """(names with samples, every name a declared family can expose)."""
    sampled, declared = set(), set()
    for line in metrics_text.splitlines():
        if line.startswith("# TYPE "):
            _, _, family, kind = line.split()
            declared |= {family + suffix for suffix in SUFFIXES.get(kind, ("",))}
        elif line and not line.startswith("#"):
            sampled.add(re.split(r"[{\s]", line, maxsplit=1)[0])
    return sampled, declared | sampled


def test_metric_names_are_found_in_promql() -> None:
    expr = (
        'histogram_quantile(0.99, sum by (le, type) (rate(a_seconds_bucket{x="y", z=~"$ns"}'
        "[$__rate_interval]))) and time() - max(b_total) > 0 unless on (pod) c"
    )
    assert metric_names(expr) == {"a_seconds_bucket", "b_total", "c"}


def _scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return str(response.read().decode())


def test_dashboard_and_alerts_query_only_metrics_a_running_server_exposes(
    env: dict[str, str], runs_table: str, settings: Settings
) -> None:
    config_id = add_config(env, team=42)
    server = ServeProcess({**env, "JOBLINE_SAMPLE_INTERVAL_S": "0.2"}, "--mode", "jobs")
    try:
        server.wait_ready()
        with Jobs.from_settings(settings) as jobs:
            jobs.send(
                [
                    JobMessage.create(
                        type="record", payload={"n": 1}, plugin_config_id=config_id, team_id=42
                    )
                ]
            )
        wait_until(
            lambda: (
                'jobline_jobs_run_total{result="success",type="record"}' in _scrape(server.port)
            ),
            30,
            f"the job did not run:\n{server.logs()[-3000:]}",
        )
        sampled, exposed = exposed_names(_scrape(server.port))
    finally:
        assert server.stop() == 0

    queried = queried_names()
    assert len(queried) > 10, queried  # the parser found the queries
    assert {"jobline_job_execution_lag_seconds_bucket", "jobline_queue_jobs"} <= sampled
    unknown = {
        name: sorted(where)
        for name, where in queried.items()
        if name not in exposed and name not in EXTERNAL
    }
    assert not unknown, f"queried but not exposed by jobline serve: {unknown}"
