"""The whole pipeline: triggers -> (Kafka | direct) -> jobs DB -> runner -> deleted."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from jobline import JobMessage, Jobs
from jobline.config import IntakeKind, Settings

from .helpers import ServeProcess, add_config, scalar, wait_until

JOBS = 2000


def _jobs(config_id: int, team: int) -> list[JobMessage]:
    now = datetime.now(UTC)
    return [
        JobMessage.create(
            type="record" if n % 4 else "record_sync",
            payload={"n": n},
            plugin_config_id=config_id,
            team_id=team,
            # half due now, half spread over the next 3 s
            run_at=now if n % 2 == 0 else now + timedelta(seconds=3 * n / JOBS),
        )
        for n in range(JOBS)
    ]


def _assert_each_ran_once(env: dict[str, str], runs_table: str, settings: Settings) -> None:
    url = env["JOBLINE_DATABASE_URL"]
    wait_until(
        lambda: scalar(url, f"SELECT count(*) FROM {runs_table}") >= JOBS, 90, "not every job ran"
    )
    # A duplicate would show up a moment later: give it the chance.
    wait_until(
        lambda: (
            scalar(settings.jobs_database_url, f"SELECT count(*) FROM {settings.schema_name}.jobs")
            == 0
        ),
        30,
        "the jobs table did not empty",
    )
    assert scalar(url, f"SELECT count(*) FROM {runs_table}") == JOBS
    assert scalar(url, f"SELECT count(DISTINCT n) FROM {runs_table}") == JOBS
    assert scalar(url, f"SELECT count(DISTINCT job_id) FROM {runs_table}") == JOBS
    assert (
        scalar(
            settings.jobs_database_url, f"SELECT count(*) FROM {settings.schema_name}.failed_jobs"
        )
        == 0
    )


@pytest.mark.parametrize("intake", ["kafka", "direct"])
def test_2000_jobs_triggered_from_another_process_each_run_exactly_once(
    env: dict[str, str],
    runs_table: str,
    settings: Settings,
    intake: str,
) -> None:
    env = {**env, "JOBLINE_INTAKE": intake}
    config_id = add_config(env, team=42)
    server = ServeProcess(env, "--mode", "jobs")
    try:
        server.wait_ready()
        producer_settings = settings.model_copy(update={"intake": IntakeKind(intake)})
        with Jobs.from_settings(producer_settings) as jobs:
            jobs.send(_jobs(config_id, 42))
        _assert_each_ran_once(env, runs_table, settings)
        assert server.stop() == 0
    finally:
        server.stop()
    assert server.events("server.stopped")


def test_a_keyed_trigger_through_kafka_replaces_the_queued_job(
    env: dict[str, str],
    runs_table: str,
    settings: Settings,
) -> None:
    config_id = add_config(env, team=42)
    server = ServeProcess(env, "--mode", "jobs")
    try:
        server.wait_ready()
        with Jobs.from_settings(settings) as jobs:
            trigger = jobs.for_config(config_id, team_id=42)
            trigger.record({"n": 1}, key="daily-report").run_in(seconds=3)
            trigger.record({"n": 2}, key="daily-report").run_in(seconds=1)
            trigger.record({"n": 3}, key="daily-report", key_mode="preserve").run_in(seconds=1)
        url = env["JOBLINE_DATABASE_URL"]
        wait_until(
            lambda: scalar(url, f"SELECT count(*) FROM {runs_table}") >= 1,
            20,
            "the keyed job did not run",
        )
        time.sleep(3)  # the replaced run_at (3 s) has passed: nothing else may run
        assert scalar(url, f"SELECT string_agg(n::text, ',') FROM {runs_table}") == "2"
    finally:
        assert server.stop() == 0
