"""Runner: retries with backoff, graceful stop, rescue after SIGKILL."""

from __future__ import annotations

import signal
import time
from datetime import UTC, datetime

from jobline import JobMessage, Jobs
from jobline.config import Settings

from .helpers import ServeProcess, add_config, scalar, wait_until


def test_failing_handler_is_retried_with_backoff_and_ends_permanently_failed(
    env: dict[str, str],
    runs_table: str,
    settings: Settings,
) -> None:
    env = {**env, "JOBLINE_RETRY_BASE_S": "1"}
    config_id = add_config(env)
    server = ServeProcess(env, "--mode", "jobs")
    try:
        server.wait_ready()
        with Jobs.from_settings(settings) as jobs:
            jobs.for_config(config_id, team_id=42).always_fails({"n": 1}).run_now()
        failed_count = f"SELECT count(*) FROM {settings.schema_name}.failed_jobs"
        wait_until(
            lambda: scalar(settings.jobs_database_url, failed_count) == 1,
            60,
            "the job did not end in failed_jobs",
        )
    finally:
        assert server.stop() == 0
    url = env["JOBLINE_DATABASE_URL"]
    with_times = f"SELECT attempt, at FROM {runs_table} ORDER BY at"
    import psycopg

    with psycopg.connect(url) as conn:
        runs = conn.execute(with_times).fetchall()
    assert [r[0] for r in runs] == [1, 2, 3]  # max_attempts=3 in the plugin's definition
    gaps = [(runs[i + 1][1] - runs[i][1]).total_seconds() for i in range(2)]
    # backoff base 1 s: nominal 1 s then 2 s, jittered down to no less than half
    assert gaps[0] >= 0.5 and gaps[1] >= 1.0, gaps
    with psycopg.connect(settings.jobs_database_url) as conn:
        row = conn.execute(
            f"SELECT attempts, last_error, type FROM {settings.schema_name}.failed_jobs"
        ).fetchone()
        assert row == (3, "RuntimeError: always fails (attempt 3)", "always_fails")
        assert conn.execute(f"SELECT count(*) FROM {settings.schema_name}.jobs").fetchone() == (0,)
    assert len(server.events("job.retry_scheduled")) == 2
    assert len(server.events("job.failed")) == 1


def _slow_jobs(config_id: int, count: int, sleep_s: float) -> list[JobMessage]:
    return [
        JobMessage.create(
            type="record_slow",
            payload={"n": n, "sleep": sleep_s},
            plugin_config_id=config_id,
            team_id=42,
            run_at=datetime.now(UTC),
        )
        for n in range(count)
    ]


def test_sigterm_lets_running_jobs_finish_and_a_restart_runs_the_rest_once(
    env: dict[str, str],
    runs_table: str,
    settings: Settings,
) -> None:
    env = {**env, "JOBLINE_RUNNER_CONCURRENCY": "10", "JOBLINE_SHUTDOWN_GRACE_S": "10"}
    config_id = add_config(env)
    url = env["JOBLINE_DATABASE_URL"]
    ran = f"SELECT count(*) FROM {runs_table}"
    first = ServeProcess(env, "--mode", "jobs")
    first.wait_ready()
    with Jobs.from_settings(settings) as jobs:
        jobs.send(_slow_jobs(config_id, 60, 1.0))
    wait_until(lambda: scalar(url, ran) >= 10, 30, "jobs did not start")
    assert first.stop(signal.SIGTERM) == 0
    done_by_first = scalar(url, ran)
    assert done_by_first < 60
    # Every job the first server had started finished within the grace: none was
    # handed back half-run, so nothing is left locked.
    locked = f"SELECT count(*) FROM {settings.schema_name}.jobs WHERE locked_by IS NOT NULL"
    assert scalar(settings.jobs_database_url, locked) == 0
    second = ServeProcess(env, "--mode", "jobs")
    try:
        wait_until(lambda: scalar(url, ran) >= 60, 60, "the rest did not run")
    finally:
        assert second.stop() == 0
    assert scalar(url, ran) == 60
    assert scalar(url, f"SELECT count(DISTINCT n) FROM {runs_table}") == 60


def test_jobs_of_a_runner_killed_with_sigkill_are_rescued_within_seconds(
    env: dict[str, str],
    runs_table: str,
    settings: Settings,
) -> None:
    env = {**env, "JOBLINE_RUNNER_DEAD_AFTER_S": "3", "JOBLINE_RUNNER_HEARTBEAT_S": "0.5"}
    config_id = add_config(env)
    first = ServeProcess(env, "--mode", "jobs")
    first.wait_ready()
    with Jobs.from_settings(settings) as jobs:
        jobs.send(_slow_jobs(config_id, 5, 30.0))
    running = f"SELECT count(*) FROM {settings.schema_name}.jobs WHERE locked_by IS NOT NULL"
    wait_until(
        lambda: scalar(settings.jobs_database_url, running) == 5, 30, "jobs were not picked up"
    )
    first.kill()
    killed_at = datetime.now(UTC)
    # the rescued jobs sleep 30 s: hand them back at once when the test stops this server
    second = ServeProcess({**env, "JOBLINE_SHUTDOWN_GRACE_S": "1"}, "--mode", "jobs")
    try:
        second.wait_ready()
        wait_until(lambda: bool(second.events("runner.rescued")), 30, "no rescue")
        rescued_at = datetime.fromisoformat(second.events("runner.rescued")[0]["timestamp"])
        assert (rescued_at - killed_at).total_seconds() < 15
        attempts = f"SELECT min(attempts) FROM {settings.schema_name}.jobs"
        assert scalar(settings.jobs_database_url, attempts) == 1  # the lost run counts
    finally:
        second.stop(timeout_s=60)


def test_a_job_due_later_runs_on_time_when_an_earlier_wakeup_was_pending(
    env: dict[str, str],
    runs_table: str,
    settings: Settings,
) -> None:
    env = {**env, "JOBLINE_RUNNER_POLL_INTERVAL_S": "30"}
    config_id = add_config(env)
    server = ServeProcess(env, "--mode", "jobs")
    url = env["JOBLINE_DATABASE_URL"]
    try:
        server.wait_ready()
        with Jobs.from_settings(settings) as jobs:
            trigger = jobs.for_config(config_id, team_id=42)
            # two intake batches: the second notification names a later time than the
            # timer the first one set
            first = trigger.record({"n": 1}).run_in(seconds=1)
            time.sleep(0.3)
            second = trigger.record({"n": 2}).run_in(seconds=2)
        wait_until(
            lambda: scalar(url, f"SELECT count(*) FROM {runs_table}") == 2,
            20,
            "the jobs did not run",
        )
        for job, n in ((first, 1), (second, 2)):
            ran_at = scalar(url, f"SELECT at FROM {runs_table} WHERE n = %s", (n,))
            lag = (ran_at - job.run_at).total_seconds()
            assert 0 <= lag < 1.0, f"job {n} ran {lag:.2f} s after its run_at"
    finally:
        assert server.stop() == 0


def test_a_job_past_its_timeout_is_cancelled_and_counted_as_a_failure(
    env: dict[str, str],
    runs_table: str,
    settings: Settings,
) -> None:
    env = {**env, "JOBLINE_RETRY_BASE_S": "0.2"}
    config_id = add_config(env)
    server = ServeProcess(env, "--mode", "jobs")
    try:
        server.wait_ready()
        with Jobs.from_settings(settings) as jobs:
            jobs.for_config(config_id, team_id=42).too_slow({"n": 1, "sleep": 5}).run_now()
        failed = f"SELECT last_error FROM {settings.schema_name}.failed_jobs"
        wait_until(
            lambda: scalar(settings.jobs_database_url, failed) is not None,
            20,
            "the slow job did not fail",
        )
        assert scalar(settings.jobs_database_url, failed) == "timed out after 0.5 s (job timeout)"
        # cancelled: the handler never reached its record
        assert scalar(env["JOBLINE_DATABASE_URL"], f"SELECT count(*) FROM {runs_table}") == 0
        assert len(server.events("job.retry_scheduled")) == 1
    finally:
        assert server.stop() == 0
