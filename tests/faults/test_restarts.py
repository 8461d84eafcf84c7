"""Restart PostgreSQL or Kafka under a running pipeline; count jobs lost and run twice."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from jobline import IntakeUnavailable, JobMessage, Jobs
from jobline.config import Settings
from tests.integration.helpers import ROOT, ServeProcess, add_config, scalar, wait_until

JOBS = 3000


def _services(command: str) -> None:
    subprocess.run(
        [str(ROOT / "scripts" / "services"), command], check=True, capture_output=True, timeout=180
    )


def _count(url: str, query: str) -> Callable[[], int]:
    def read() -> int:
        try:
            return int(scalar(url, query))
        except Exception:
            return -1  # the database is restarting

    return read


def _spread_jobs(config_id: int, start: int, count: int, over_s: float) -> list[JobMessage]:
    now = datetime.now(UTC)
    return [
        JobMessage.create(
            type="record",
            payload={"n": n},
            plugin_config_id=config_id,
            team_id=42,
            run_at=now + timedelta(seconds=over_s * i / count),
        )
        for i, n in enumerate(range(start, start + count))
    ]


def _assert_each_ran_once(env: dict[str, str], runs_table: str, settings: Settings) -> None:
    url = env["JOBLINE_DATABASE_URL"]
    ran = _count(url, f"SELECT count(*) FROM {runs_table}")
    wait_until(lambda: ran() >= JOBS, 120, f"only {ran()} of {JOBS} jobs ran")
    left = _count(settings.jobs_database_url, f"SELECT count(*) FROM {settings.schema_name}.jobs")
    wait_until(lambda: left() == 0, 30, "the jobs table did not empty")
    runs = scalar(url, f"SELECT count(*) FROM {runs_table}")
    distinct = scalar(url, f"SELECT count(DISTINCT n) FROM {runs_table}")
    failed = scalar(
        settings.jobs_database_url, f"SELECT count(*) FROM {settings.schema_name}.failed_jobs"
    )
    assert (distinct, runs - distinct, failed) == (JOBS, 0, 0), (
        f"lost {JOBS - distinct}, run twice {runs - distinct}, failed {failed}"
    )


@pytest.fixture
def fault_env(env: dict[str, str]) -> dict[str, str]:
    # Handlers write to the same PostgreSQL: give them attempts to ride out the restart.
    return {
        **env,
        "JOBLINE_MAX_ATTEMPTS": "20",
        "JOBLINE_RETRY_BASE_S": "0.5",
        "JOBLINE_RETRY_CAP_S": "2",
    }


def test_postgresql_restart_under_load_loses_nothing_and_runs_nothing_twice(
    fault_env: dict[str, str],
    runs_table: str,
    settings: Settings,
) -> None:
    config_id = add_config(fault_env)
    server = ServeProcess(fault_env, "--mode", "jobs")
    try:
        server.wait_ready()
        with Jobs.from_settings(settings) as jobs:
            jobs.send(_spread_jobs(config_id, 0, JOBS, over_s=8))
        ran = _count(fault_env["JOBLINE_DATABASE_URL"], f"SELECT count(*) FROM {runs_table}")
        wait_until(lambda: ran() >= 300, 30, "jobs did not start running")
        _services("restart-postgres")
        _assert_each_ran_once(fault_env, runs_table, settings)
        assert server.proc.poll() is None, "the server died during the restart"
        # the outage was seen (and ridden out), not missed
        assert server.events("runner.listen_lost"), server.logs()[-3000:]
    finally:
        assert server.stop() == 0


def test_kafka_restart_under_load_loses_nothing_and_runs_nothing_twice(
    fault_env: dict[str, str],
    runs_table: str,
    settings: Settings,
) -> None:
    config_id = add_config(fault_env)
    server = ServeProcess(fault_env, "--mode", "jobs")
    try:
        server.wait_ready()
        half = JOBS // 2
        with Jobs.from_settings(settings) as jobs:
            jobs.send(_spread_jobs(config_id, 0, half, over_s=10))
        _services("restart-kafka")
        deadline = time.monotonic() + 60
        while True:  # the producer may see the broker still electing leaders
            try:
                with Jobs.from_settings(settings) as jobs:
                    jobs.send(_spread_jobs(config_id, half, JOBS - half, over_s=2))
                break
            except IntakeUnavailable:
                if time.monotonic() > deadline:
                    raise
        _assert_each_ran_once(fault_env, runs_table, settings)
        assert server.proc.poll() is None, "the server died during the restart"
        assert server.events("intake.kafka_error"), server.logs()[-3000:]
    finally:
        assert server.stop() == 0
