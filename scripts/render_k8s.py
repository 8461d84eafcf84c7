"""Render deploy/k8s/ (plain manifests for users without Helm) from the Helm chart.

Split by what a user applies when: `migrate.yaml` (the `jobline migrate` Job, a Helm hook
in the chart: run it first), `jobline.yaml` (deployments, services, disruption budgets),
`monitoring.yaml` (ServiceMonitor and PrometheusRule: needs the Prometheus Operator).

    python scripts/render_k8s.py [--helm PATH] [--check]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
CHART = ROOT / "deploy" / "helm" / "jobline"
OUT = ROOT / "deploy" / "k8s"
VALUES = OUT / "values.yaml"
RELEASE = "jobline"
HEADER = (
    "# Rendered from deploy/helm/jobline with deploy/k8s/values.yaml by `make deploy-render`;\n"
    "# do not edit (tests/deploy checks it matches the chart). Apply in namespace posthog:\n"
    "#   kubectl apply -n posthog -f deploy/k8s/{name}\n"
)
MONITORING_KINDS = {"ServiceMonitor", "PrometheusRule"}


def helm_template(helm: str, values: Path, *extra: str) -> str:
    cmd = [helm, "template", RELEASE, str(CHART), "--values", str(values), *extra]
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def _file_for(doc: dict[str, Any]) -> str:
    annotations = (doc.get("metadata") or {}).get("annotations") or {}
    if doc.get("kind") == "Job" and "helm.sh/hook" in annotations:
        return "migrate.yaml"
    return "monitoring.yaml" if doc.get("kind") in MONITORING_KINDS else "jobline.yaml"


def split(rendered: str) -> dict[str, str]:
    """Documents of `helm template` output, grouped by file, each kept as rendered."""
    files: dict[str, list[str]] = {}
    for text in rendered.split("\n---\n"):
        doc = yaml.safe_load(text)
        if not doc:
            continue
        files.setdefault(_file_for(doc), []).append(text.strip("-\n") + "\n")
    return {
        name: HEADER.format(name=name) + "---\n" + "---\n".join(docs)
        for name, docs in sorted(files.items())
    }


def render(helm: str) -> dict[str, str]:
    return split(helm_template(helm, VALUES))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--helm", default=str(ROOT / ".tools" / "bin" / "helm"))
    parser.add_argument("--check", action="store_true", help="fail if deploy/k8s is stale")
    args = parser.parse_args()
    wanted = render(args.helm)
    stale = [
        n for n, text in wanted.items() if not (OUT / n).exists() or (OUT / n).read_text() != text
    ]
    if args.check:
        if stale:
            print(f"deploy/k8s is stale ({', '.join(stale)}): run `make deploy-render`")
        return 1 if stale else 0
    for name, text in wanted.items():
        (OUT / name).write_text(text)
    print(f"rendered {', '.join(sorted(wanted))} into {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
