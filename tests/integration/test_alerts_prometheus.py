"""A real Prometheus scrapes `jobline serve`: the alert rules load, and the intake-stalled
alert stays quiet while an intake persists and fires once the intake is stopped while
triggers keep arriving.

The shipped rules wait minutes (`for: 2m`, `changes(...[5m])`); this test loads them all
unchanged to prove they load, plus a copy of JoblineIntakeStalled with the same expression
over seconds instead of minutes, so it can fire within the test's time.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .doctor_support import job_message, produce
from .helpers import ROOT, ServeProcess, add_config, free_port, wait_until

ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
SHIPPED = {
    "JoblineIntakeStalled",
    "JoblineIntakeLagGrowing",
    "JoblineExecutionLag",
    "JoblineNoLiveRunner",
    "JoblineDlqGrowing",
    "JoblineFailedJobsRising",
    "JoblineJobsDbConnectionsNearLimit",
}


def _fast_intake_stalled_rule() -> str:
    """JoblineIntakeStalled as shipped, renamed, over seconds instead of minutes."""
    text = ALERTS.read_text()
    start = text.index("      - alert: JoblineIntakeStalled")
    end = text.index("      - alert: JoblineIntakeLagGrowing")
    block = (
        text[start:end]
        .replace("JoblineIntakeStalled", "JoblineIntakeStalledFast")
        .replace("[5m]", "[8s]")
        .replace("for: 2m", "for: 2s")
    )
    assert "[8s]" in block and "for: 2s" in block, "the shipped rule changed shape"
    return "groups:\n  - name: jobline-fast-copy\n    rules:\n" + block


class Prometheus:
    def __init__(self, targets: list[int]) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="jobline-prometheus-"))
        self.port = free_port()
        (self.dir / "fast.yml").write_text(_fast_intake_stalled_rule())
        shutil.copy(ALERTS, self.dir / "alerts.yml")
        scrape = ", ".join(f"'127.0.0.1:{p}'" for p in targets)
        (self.dir / "prometheus.yml").write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            "rule_files: [alerts.yml, fast.yml]\n"
            f"scrape_configs: [{{job_name: jobline, static_configs: [{{targets: [{scrape}]}}]}}]\n"
        )
        self.log = (self.dir / "prometheus.log").open("wb")
        self.proc = subprocess.Popen(
            [
                "prometheus",
                f"--config.file={self.dir / 'prometheus.yml'}",
                f"--storage.tsdb.path={self.dir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def api(self, path: str) -> Any:
        url = f"http://127.0.0.1:{self.port}/api/v1/{path}"
        with urllib.request.urlopen(url, timeout=3) as response:
            return json.loads(response.read())["data"]

    def answers(self) -> bool:
        try:
            self.api("status/buildinfo")
            return True
        except OSError:
            return False

    def firing(self, name: str) -> list[dict[str, Any]]:
        alerts = self.api("alerts")["alerts"]
        return [a for a in alerts if a["labels"]["alertname"] == name and a["state"] == "firing"]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def runner_and_intake(env: dict[str, str]) -> Iterator[tuple[ServeProcess, ServeProcess]]:
    """Two processes, as two deployments: the runner's sampler measures the intake's lag."""
    add_config(env)
    runner = ServeProcess(
        {**env, "JOBLINE_SAMPLE_INTERVAL_S": "1"}, "--capabilities", "runner,http"
    )
    intake = ServeProcess(env, "--capabilities", "intake,http")
    try:
        runner.wait_ready()
        intake.wait_ready()
        yield runner, intake
    finally:
        runner.stop()
        intake.stop()


@pytest.mark.timeout(90)
def test_prometheus_loads_the_rules_and_fires_intake_stalled_when_the_intake_stops(
    env: dict[str, str], runner_and_intake: tuple[ServeProcess, ServeProcess]
) -> None:
    if shutil.which("prometheus") is None:
        pytest.fail("prometheus is not installed: run `make tools` (scripts/install-tools)")
    runner, intake = runner_and_intake
    prometheus = Prometheus([runner.port, intake.port])
    hosts, topic = env["JOBLINE_KAFKA_HOSTS"], env["JOBLINE_JOBS_TOPIC"]
    try:
        wait_until(prometheus.answers, 20, "prometheus did not start")
        groups = {g["name"]: g for g in prometheus.api("rules")["groups"]}
        shipped = {r["name"]: r for r in groups["jobline"]["rules"]}
        assert set(shipped) == SHIPPED
        assert all(r["health"] != "err" for r in shipped.values())

        produce(hosts, topic, [job_message()] * 10)

        def lag_zero_scraped() -> bool:
            result = prometheus.api("query?query=sum(jobline_intake_partition_lag)")["result"]
            stored = prometheus.api("query?query=max(jobline_intake_partition_stored_offset)")
            return bool(result) and result[0]["value"][1] == "0" and bool(stored["result"])

        wait_until(lag_zero_scraped, 30, "the sampler's lag never reached Prometheus as 0")
        assert prometheus.firing("JoblineIntakeStalledFast") == []

        assert intake.stop() == 0
        produce(hosts, topic, [job_message()] * 10)
        wait_until(
            lambda: bool(prometheus.firing("JoblineIntakeStalledFast")),
            30,
            "JoblineIntakeStalledFast did not fire after the intake stopped",
            interval_s=1,
        )
        fired = prometheus.firing("JoblineIntakeStalledFast")
        assert {a["labels"]["severity"] for a in fired} == {"page"}
    finally:
        prometheus.stop()
