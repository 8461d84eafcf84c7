"""Handlers cannot hurt the server: what a handler raises or blocks on fails its own job."""

from __future__ import annotations

import time
import urllib.request
from datetime import UTC, datetime

from jobline import JobMessage, Jobs
from jobline.config import Settings

from .helpers import ServeProcess, add_config, scalar, wait_until

POISON = ("exits", "exits_sync", "interrupts", "cancels", "nul_error")


def _job(config_id: int, job_type: str, team_id: int = 42, **payload: object) -> JobMessage:
    return JobMessage.create(
        type=job_type,
        payload=payload,
        plugin_config_id=config_id,
        team_id=team_id,
        run_at=datetime.now(UTC),
    )


def _failed_errors(settings: Settings) -> dict[str, str]:
    import psycopg

    with psycopg.connect(settings.jobs_database_url) as conn:
        rows = conn.execute(
            f"SELECT type, last_error FROM {settings.schema_name}.failed_jobs"
        ).fetchall()
    return {str(r[0]): str(r[1]) for r in rows}


def test_poison_handlers_fail_their_own_jobs_and_the_server_runs_the_others(
    env: dict[str, str], runs_table: str, settings: Settings
) -> None:
    config_id = add_config(env)
    url = env["JOBLINE_DATABASE_URL"]
    server = ServeProcess(env, "--mode", "jobs")
    try:
        server.wait_ready()
        with Jobs.from_settings(settings) as jobs:
            jobs.send([_job(config_id, t) for t in POISON])
            jobs.send([_job(config_id, "record", n=n) for n in range(10)])
        wait_until(
            lambda: len(_failed_errors(settings)) == len(POISON),
            30,
            f"poison jobs did not all fail: {_failed_errors(settings)}",
        )
        wait_until(lambda: scalar(url, f"SELECT count(*) FROM {runs_table}") == 10, 30, "good")
        assert server.proc.poll() is None, server.logs()[-3000:]
        assert server.ready()
        errors = _failed_errors(settings)
        assert errors["exits"] == "SystemExit: 3"
        assert errors["exits_sync"] == "SystemExit: 4"
        assert errors["interrupts"] == "KeyboardInterrupt: "
        assert errors["cancels"].startswith("CancelledError: the handler's own (raised by the")
        nul = errors["nul_error"]
        assert "\x00" not in nul and nul.startswith("RuntimeError: bad\\x00byte and a lone \\udc80")
        assert len(nul.encode()) <= 4096 and nul.endswith("truncated]")
        # nothing was handed back for ever: the jobs table is empty
        jobs_left = f"SELECT count(*) FROM {settings.schema_name}.jobs"
        # The completer writes outcomes in batches: the last one may land a moment later.
        wait_until(
            lambda: scalar(settings.jobs_database_url, jobs_left) == 0, 10, "jobs left queued"
        )
        assert scalar(settings.jobs_database_url, jobs_left) == 0
    finally:
        assert server.stop() == 0


def test_a_sync_handler_past_its_timeout_keeps_its_job_locked_until_its_thread_ends(
    env: dict[str, str], runs_table: str, settings: Settings
) -> None:
    config_id = add_config(env)
    server = ServeProcess(
        {**env, "JOBLINE_SHUTDOWN_GRACE_S": "3", "JOBLINE_RUNNER_ZOMBIE_THREADS_UNREADY": "0"},
        "--mode",
        "jobs",
    )
    locked = f"SELECT count(*) FROM {settings.schema_name}.jobs WHERE locked_by IS NOT NULL"
    failed = f"SELECT last_error FROM {settings.schema_name}.failed_jobs"
    try:
        server.wait_ready()
        with Jobs.from_settings(settings) as jobs:
            jobs.send([_job(config_id, "blocks_sync", n=1, sleep=2.5)])
        wait_until(lambda: bool(server.events("job.thread_still_running")), 20, "no timeout")
        # past its 0.3 s timeout, its thread still runs: the job stays locked, others run
        assert scalar(settings.jobs_database_url, locked) == 1
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics").read()
        assert b"jobline_runner_zombie_threads 1.0" in metrics
        assert not server.ready()  # more zombie threads than the setting allows (0)
        with Jobs.from_settings(settings) as jobs:
            jobs.send([_job(config_id, "record", n=2)])
        url = env["JOBLINE_DATABASE_URL"]
        wait_until(lambda: scalar(url, f"SELECT count(*) FROM {runs_table}") == 1, 10, "other")
        wait_until(lambda: scalar(settings.jobs_database_url, failed) is not None, 20, "end")
        assert scalar(settings.jobs_database_url, failed) == "timed out after 0.3 s (job timeout)"
        assert scalar(url, f"SELECT count(*) FROM {runs_table} WHERE n = 1") == 1
        wait_until(server.ready, 10, "still unready once the thread ended")
        # a handler blocking for a minute does not hold up the stop
        with Jobs.from_settings(settings) as jobs:
            jobs.send([_job(config_id, "blocks_sync", n=3, sleep=60)])
        wait_until(lambda: len(server.events("job.thread_still_running")) == 2, 20, "block")
        stopping = time.monotonic()
        assert server.stop(timeout_s=20) == 0
        assert time.monotonic() - stopping < 10
    finally:
        server.stop()


def test_a_job_whose_team_is_not_its_configs_team_is_refused(
    env: dict[str, str], runs_table: str, settings: Settings
) -> None:
    config_id = add_config(env, team=42)
    server = ServeProcess(env, "--mode", "jobs")
    try:
        server.wait_ready()
        with Jobs.from_settings(settings) as jobs:
            jobs.send([_job(config_id, "record", team_id=7, n=1)])
        wait_until(lambda: bool(_failed_errors(settings)), 20, "not refused")
        assert _failed_errors(settings)["record"].startswith("team_mismatch: job of team 7")
        assert scalar(env["JOBLINE_DATABASE_URL"], f"SELECT count(*) FROM {runs_table}") == 0
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics").read()
        assert b'jobline_jobs_not_run_total{reason="team_mismatch"} 1.0' in metrics
    finally:
        assert server.stop() == 0


def test_a_job_of_a_type_unknown_here_is_postponed_with_backoff_then_fails(
    env: dict[str, str], runs_table: str, settings: Settings
) -> None:
    config_id = add_config(env)
    server = ServeProcess({**env, "JOBLINE_UNKNOWN_JOB_GIVE_UP_S": "6"}, "--mode", "jobs")
    row = (
        f"SELECT unrunnable_since IS NOT NULL, run_at > now() + interval '2 s', locked_by "
        f"FROM {settings.schema_name}.jobs"
    )
    try:
        server.wait_ready()
        with Jobs.from_settings(settings) as jobs:
            jobs.send([_job(config_id, "from_a_newer_release", n=1)])
        wait_until(lambda: bool(server.events("job.postponed")), 20, "not postponed")
        event = server.events("job.postponed")[0]
        assert event["reason"] == "unknown_type" and event["retry_in_s"] >= 2.5
        import psycopg

        def written() -> bool:
            # The completer writes the postponement a moment after the event is logged.
            with psycopg.connect(settings.jobs_database_url) as conn:
                return conn.execute(row).fetchone() == (True, True, None)

        wait_until(written, 10, "the postponement was not written")
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics").read()
        # a type no plugin defines shares one label value
        assert b'jobline_jobs_run_total{result="postponed",type="unknown"}' in metrics, metrics[
            -3000:
        ]
        assert b"from_a_newer_release" not in metrics
        # past JOBLINE_UNKNOWN_JOB_GIVE_UP_S it fails, with the reason
        wait_until(lambda: bool(_failed_errors(settings)), 30, "never gave up")
        error = _failed_errors(settings)["from_a_newer_release"]
        assert error.startswith("unknown_type: plugin 'recorder' defines no job")
        assert "JOBLINE_UNKNOWN_JOB_GIVE_UP_S=6" in error
    finally:
        assert server.stop() == 0


def test_sigterm_stops_within_one_grace_and_hands_back_a_job_that_runs_past_it(
    env: dict[str, str], runs_table: str, settings: Settings
) -> None:
    config_id = add_config(env)
    env = {**env, "JOBLINE_SHUTDOWN_GRACE_S": "3", "JOBLINE_SHUTDOWN_RESERVE_S": "1"}
    server = ServeProcess(env, "--mode", "jobs")
    running = f"SELECT count(*) FROM {settings.schema_name}.jobs WHERE locked_by IS NOT NULL"
    try:
        server.wait_ready()
        with Jobs.from_settings(settings) as jobs:
            jobs.send([_job(config_id, "record_slow", n=1, sleep=60)])
        wait_until(lambda: scalar(settings.jobs_database_url, running) == 1, 20, "not started")
        stopping = time.monotonic()
        assert server.stop(timeout_s=20) == 0
        took = time.monotonic() - stopping
    finally:
        server.stop()
    assert took < 3 + 2, f"stopped after {took:.1f} s, over the 3 s grace"
    # handed back untouched (not an attempt), due again for the next runner
    state = f"SELECT locked_by, attempts FROM {settings.schema_name}.jobs"
    import psycopg

    with psycopg.connect(settings.jobs_database_url) as conn:
        assert conn.execute(state).fetchall() == [(None, 0)]
    draining = server.events("runner.draining")
    assert draining and draining[0]["grace_s"] <= 2.0  # the grace minus the reserve
