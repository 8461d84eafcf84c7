"""Deploy files: the Helm chart rendered with `helm template`, read back with PyYAML.

Helm is the project's pinned build in .tools/bin (`scripts/install-helm`, run by
`make deploy-check` before these tests).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

# The integration fixtures (per-test schema, topics, consumer group) for the metric test.
from tests.integration.conftest import (  # noqa: F401
    env,
    kafka_topics,
    route,
    runs_table,
    services_env,
    settings,
    test_id,
)

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "jobline"
CI_VALUES = sorted((CHART / "ci").glob("*-values.yaml"))
HELM = ROOT / ".tools" / "bin" / "helm"

Manifest = dict[str, Any]
Rendered = dict[str, tuple[str, list[Manifest]]]


def helm_template(*args: str) -> subprocess.CompletedProcess[str]:
    if not HELM.exists():
        pytest.fail(f"{HELM} is missing: run `scripts/install-helm` (make deploy-check does)")
    cmd = [str(HELM), "template", "jobline", str(CHART), "--namespace", "posthog", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def render(values: Path | None = None, *sets: str) -> tuple[str, list[Manifest]]:
    """The rendered text and its documents, for a values file and --set overrides."""
    args = ["--values", str(values)] if values else []
    for item in sets:
        args += ["--set", item]
    done = helm_template(*args)
    assert done.returncode == 0, done.stderr
    return done.stdout, [d for d in yaml.safe_load_all(done.stdout) if d]


@pytest.fixture(scope="session")
def rendered() -> Rendered:
    """Every ci/*-values.yaml rendered once, by file stem (defaults, all-modes, ...)."""
    return {p.name.removesuffix("-values.yaml"): render(p) for p in CI_VALUES}


def of_kind(docs: list[Manifest], kind: str) -> dict[str, Manifest]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def container(deployment: Manifest) -> Manifest:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return dict(containers[0])


def env_of(deployment: Manifest) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in container(deployment).get("env", [])}
