"""The Helm chart, rendered for each ci/*-values.yaml: names, probes, grace, env, secrets."""

from __future__ import annotations

import base64
from typing import Any

import pytest
import yaml

from jobline.config import Settings
from jobline.server.capabilities import MODES

from .conftest import (
    CHART,
    CI_VALUES,
    HELM,
    ROOT,
    Manifest,
    Rendered,
    container,
    env_of,
    helm_template,
    of_kind,
    render,
)

FAKE_SECRETS = ("fake-main-S3CRET", "fake-jobs-S3CRET", "fake-kafka-S3CRET")
DATABASE_URL_KEYS = (
    "JOBLINE_DATABASE_URL",
    "JOBLINE_JOBS_DATABASE_URL",
    "JOBLINE_DATABASE_DIRECT_URL",
    "JOBLINE_JOBS_DATABASE_DIRECT_URL",
)


def _merged(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Values as Helm merges them: maps key by key, anything else replaced."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merged[key] = _merged(base[key], value)
        else:
            merged[key] = value
    return merged


def _values(name: str) -> dict[str, Any]:
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    return _merged(defaults, yaml.safe_load((CHART / "ci" / f"{name}-values.yaml").read_text()))


def _secret_data(docs: list[Manifest]) -> dict[str, str]:
    data = of_kind(docs, "Secret")["plugins-jobline"]["data"]
    return {k: base64.b64decode(v).decode() for k, v in data.items()}


def _deployments(rendered: Rendered, name: str) -> dict[str, Manifest]:
    return of_kind(rendered[name][1], "Deployment")


def test_ci_values_files_cover_defaults_all_modes_existing_secret_keda_and_pgbouncer() -> None:
    assert {p.name.removesuffix("-values.yaml") for p in CI_VALUES} >= {
        "defaults",
        "all-modes",
        "existing-secret",
        "keda",
        "pgbouncer",
    }


def test_default_deployments_are_named_as_the_runbook_restarts_them(rendered: Rendered) -> None:
    assert set(_deployments(rendered, "defaults")) == {
        "plugins-jobs",
        "plugins-scheduler",
        "plugins-api",
    }


def test_a_deployment_name_can_be_changed(rendered: Rendered) -> None:
    names = set(_deployments(rendered, "all-modes"))
    assert names == {
        "plugins-jobs",
        "plugins-scheduler",
        "jobline-http",
        "plugins-runners",
        "plugins-dashboard",
    }


def test_each_deployment_runs_its_mode(rendered: Rendered) -> None:
    deployments = _deployments(rendered, "all-modes")
    for mode in ("jobs", "scheduler"):
        assert env_of(deployments[f"plugins-{mode}"])["JOBLINE_MODE"] == mode
        assert container(deployments[f"plugins-{mode}"])["args"] == ["serve"]
    assert env_of(deployments["jobline-http"])["JOBLINE_MODE"] == "api"
    runners = env_of(deployments["plugins-runners"])
    assert "JOBLINE_MODE" not in runners
    assert runners["JOBLINE_CAPABILITIES"] == "runner,http"  # never consumes Kafka
    assert "JOBLINE_MODE" not in env_of(deployments["plugins-dashboard"])
    assert container(deployments["plugins-dashboard"])["args"] == ["dashboard"]
    for deployment in deployments.values():
        preset = env_of(deployment).get("JOBLINE_MODE")
        assert preset is None or preset in MODES, preset


def test_probes_use_health_and_ready_on_the_http_port(rendered: Rendered) -> None:
    for name in ("defaults", "all-modes"):
        port = int(_values(name)["httpPort"])
        for deployment in _deployments(rendered, name).values():
            c = container(deployment)
            assert c["ports"] == [{"name": "http", "containerPort": port, "protocol": "TCP"}]
            assert c["livenessProbe"]["httpGet"] == {"path": "/_health", "port": "http"}
            assert c["startupProbe"]["httpGet"] == {"path": "/_health", "port": "http"}
            assert c["readinessProbe"]["httpGet"] == {"path": "/_ready", "port": "http"}
            env = env_of(deployment)
            assert env["JOBLINE_HTTP_PORT"] == str(port)
            assert env["JOBLINE_HTTP_HOST"] == "0.0.0.0"


def test_pod_grace_is_the_shutdown_grace_plus_the_margin(rendered: Rendered) -> None:
    for name in ("defaults", "all-modes"):
        values = _values(name)
        grace, margin = (
            int(values["shutdownGraceSeconds"]),
            int(values["terminationGraceMarginSeconds"]),
        )
        for deployment in _deployments(rendered, name).values():
            pod = deployment["spec"]["template"]["spec"]
            assert float(env_of(deployment)["JOBLINE_SHUTDOWN_GRACE_S"]) == grace
            assert pod["terminationGracePeriodSeconds"] == grace + margin > grace


def test_pods_never_migrate_at_start_and_the_hook_job_migrates_first(rendered: Rendered) -> None:
    docs = rendered["defaults"][1]
    for deployment in of_kind(docs, "Deployment").values():
        assert env_of(deployment)["JOBLINE_MIGRATE_ON_START"] == "false"
    job = of_kind(docs, "Job")["plugins-migrate"]
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert container(job)["args"] == ["migrate"]
    secret = of_kind(docs, "Secret")["plugins-jobline"]
    # the chart's Secret must exist before the hook Job that reads it
    assert int(secret["metadata"]["annotations"]["helm.sh/hook-weight"]) < int(
        job["metadata"]["annotations"]["helm.sh/hook-weight"]
    )


def test_every_env_name_the_chart_sets_is_a_jobline_setting(rendered: Rendered) -> None:
    known = {f.alias or f"JOBLINE_{name.upper()}" for name, f in Settings.model_fields.items()}
    for _, docs in rendered.values():
        for kind in ("Deployment", "Job"):
            for manifest in of_kind(docs, kind).values():
                assert set(env_of(manifest)) <= known, set(env_of(manifest)) - known


def test_database_urls_come_only_from_the_secret(rendered: Rendered) -> None:
    for values_name, (_, docs) in rendered.items():
        secret_name = "jobline-secrets" if values_name in ("existing-secret", "keda") else None
        for kind in ("Deployment", "Job"):
            for manifest in of_kind(docs, kind).values():
                c = container(manifest)
                assert not set(DATABASE_URL_KEYS) & set(env_of(manifest))
                assert all("valueFrom" in e or "value" in e for e in c["env"])
                refs = [s["secretRef"]["name"] for s in c["envFrom"]]
                assert refs == [secret_name or "plugins-jobline"]


def test_no_secret_value_appears_in_plain_text(rendered: Rendered) -> None:
    for name in ("defaults", "pgbouncer"):
        for fake in FAKE_SECRETS:
            assert fake not in rendered[name][0]
    decoded = _secret_data(rendered["defaults"][1])
    assert "fake-jobs-S3CRET" in decoded["JOBLINE_JOBS_DATABASE_URL"]  # the check can fail
    assert "fake-kafka-S3CRET" in decoded["JOBLINE_KAFKA_SASL_PASSWORD"]


def test_an_existing_secret_means_no_secret_in_the_release(rendered: Rendered) -> None:
    assert of_kind(rendered["existing-secret"][1], "Secret") == {}


def test_behind_pgbouncer_every_pod_and_the_migrate_job_get_the_pooler_settings(
    rendered: Rendered,
) -> None:
    docs = rendered["pgbouncer"][1]
    for kind in ("Deployment", "Job"):
        for manifest in of_kind(docs, kind).values():
            env = env_of(manifest)
            assert env["JOBLINE_DB_PREPARED_STATEMENTS"] == "false"
            assert env["JOBLINE_DB_SCHEMA_FROM"] == "role"
    data = _secret_data(docs)
    # pooled URLs through PgBouncer, direct URLs (LISTEN, migrations) to the databases
    assert "@pgbouncer:6432/posthog" in data["JOBLINE_DATABASE_URL"]
    assert "@main-db:5432/posthog" in data["JOBLINE_DATABASE_DIRECT_URL"]
    assert "@jobs-db:5432/jobs" in data["JOBLINE_JOBS_DATABASE_DIRECT_URL"]


def test_by_default_pods_connect_directly_and_the_secret_has_no_direct_urls(
    rendered: Rendered,
) -> None:
    docs = rendered["defaults"][1]
    for manifest in of_kind(docs, "Deployment").values():
        env = env_of(manifest)
        assert env["JOBLINE_DB_PREPARED_STATEMENTS"] == "true"
        assert env["JOBLINE_DB_SCHEMA_FROM"] == "options"
    data = _secret_data(docs)
    assert not {"JOBLINE_DATABASE_DIRECT_URL", "JOBLINE_JOBS_DATABASE_DIRECT_URL"} & set(data)


SECRET = 'secret.existingSecret="s"'


@pytest.mark.parametrize(
    ("sets", "refusal"),
    [
        ((SECRET, "deployments.jobs.replicas=9"), "above kafka.partitions=8"),
        (
            (SECRET, "autoscaling.enabled=true", "autoscaling.maxReplicas=9"),
            "above kafka.partitions=8",
        ),
        ((), "no database URLs"),
        ((SECRET, 'env.JOBLINE_DATABASE_URL="postgresql://x"'), "not allowed as a plain value"),
        (
            (SECRET, 'env.JOBLINE_JOBS_DATABASE_DIRECT_URL="postgresql://x"'),
            "not allowed as a plain value",
        ),
        (
            (SECRET, 'env.JOBLINE_DB_SCHEMA_FROM="role"'),
            "set by the chart from database.schemaFrom",
        ),
        (
            ('secret.databaseUrl="a"', 'secret.jobsDatabaseUrl="b"', 'database.schemaFrom="role"'),
            "without secret.databaseDirectUrl and secret.jobsDatabaseDirectUrl",
        ),
        ((SECRET, 'database.schemaFrom="session"'), "must be one of"),
        (
            (SECRET, 'deployments.jobs.env.JOBLINE_SHUTDOWN_GRACE_S="60"'),
            "set by the chart from shutdownGraceSeconds",
        ),
        ((SECRET, "shutdownGraceSeconds=2.5"), "want integer"),
        ((SECRET, "terminationGraceMarginSeconds=2"), "minimum"),
        ((SECRET, "kafka.partitions=0"), "minimum"),
    ],
)
def test_the_chart_refuses_values_that_would_break_the_deployment(
    sets: tuple[str, ...], refusal: str
) -> None:
    done = helm_template(*[a for s in sets for a in ("--set-json", s)])
    assert done.returncode != 0
    assert refusal in done.stderr, done.stderr


def test_jobs_replicas_never_exceed_the_partitions(rendered: Rendered) -> None:
    for name, (_, docs) in rendered.items():
        partitions = int(_values(name)["kafka"]["partitions"])
        jobs = of_kind(docs, "Deployment")["plugins-jobs"]
        scaled = of_kind(docs, "ScaledObject")
        if scaled:
            assert "replicas" not in jobs["spec"]  # KEDA owns the count
            assert scaled["plugins-jobs"]["spec"]["maxReplicaCount"] <= partitions
        else:
            assert jobs["spec"]["replicas"] <= partitions


def test_keda_scales_the_jobs_deployment_on_the_intake_group_lag(rendered: Rendered) -> None:
    spec = of_kind(rendered["keda"][1], "ScaledObject")["plugins-jobs"]["spec"]
    assert spec["scaleTargetRef"] == {"name": "plugins-jobs"}
    (trigger,) = spec["triggers"]
    assert trigger["type"] == "kafka"
    assert trigger["metadata"]["consumerGroup"] == "jobs-inserter"
    assert trigger["metadata"]["topic"] == "jobs"
    assert trigger["metadata"]["allowIdleConsumers"] == "false"
    assert trigger["authenticationRef"] == {"name": "jobline-kafka-auth"}


def test_every_deployment_has_a_disruption_budget_and_a_service(rendered: Rendered) -> None:
    docs = rendered["all-modes"][1]
    deployments = of_kind(docs, "Deployment")
    budgets, services = of_kind(docs, "PodDisruptionBudget"), of_kind(docs, "Service")
    assert set(budgets) == set(services) == set(deployments)
    for name, deployment in deployments.items():
        pods = deployment["spec"]["template"]["metadata"]["labels"]
        assert budgets[name]["spec"]["selector"]["matchLabels"].items() <= pods.items()
        assert services[name]["spec"]["selector"].items() <= pods.items()
        assert container(deployment)["resources"]["requests"]


def test_alerts_copy_in_the_chart_equals_deploy_prometheus_alerts() -> None:
    source = ROOT / "deploy" / "prometheus" / "alerts.yml"
    copy = CHART / "files" / "alerts.yml"
    assert copy.read_text() == source.read_text(), "run `make deploy-sync`"


def test_prometheus_rule_holds_the_alerts_file_groups(rendered: Rendered) -> None:
    rule = of_kind(rendered["all-modes"][1], "PrometheusRule")["plugins-jobline"]
    alerts = yaml.safe_load((ROOT / "deploy" / "prometheus" / "alerts.yml").read_text())
    assert rule["spec"]["groups"] == alerts["groups"]
    monitor = of_kind(rendered["all-modes"][1], "ServiceMonitor")["plugins-jobline"]
    assert monitor["spec"]["endpoints"] == [{"port": "http", "path": "/metrics", "interval": "30s"}]


def test_plain_manifests_in_deploy_k8s_match_the_chart() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("render_k8s", ROOT / "scripts" / "render_k8s.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    wanted: dict[str, str] = module.render(str(HELM))
    out = ROOT / "deploy" / "k8s"
    assert set(wanted) == {"migrate.yaml", "jobline.yaml", "monitoring.yaml"}
    for name, text in wanted.items():
        assert (out / name).read_text() == text, (
            f"deploy/k8s/{name} is stale: run `make deploy-render`"
        )


def test_default_render_is_valid_without_any_values_file_but_the_secret() -> None:
    _, docs = render(None, "secret.existingSecret=jobline-secrets")
    assert {d["kind"] for d in docs} == {"Deployment", "Service", "PodDisruptionBudget", "Job"}
