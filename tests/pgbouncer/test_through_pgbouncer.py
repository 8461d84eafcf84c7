"""jobline runs whole through PgBouncer in transaction mode, with the settings it needs.

JOBLINE_DB_PREPARED_STATEMENTS=false, JOBLINE_DB_SCHEMA_FROM=role, and the direct URLs for
LISTEN (conftest.env): the pipeline, a retry, a scheduled task, and a config change heard
on the direct URL. test_without_the_settings.py shows each setting is needed.
"""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from jobline import Jobs
from jobline.config import IntakeKind, Settings
from jobline.databases import jobs_db_for, main_db_for
from jobline.dburl import DbLimits
from jobline.migrator import opened
from jobline.plugins.config_watcher import ConfigWatcher
from jobline.runner.sampler import SamplerService
from jobline.store import JobsDB
from tests.db_route import pgbouncer_clients
from tests.devenv import run_jobline
from tests.integration.helpers import ServeProcess, add_config, scalar, wait_until
from tests.integration.test_jobs_db import (
    test_fetch_stays_on_the_due_index_when_statistics_are_stale as stale_statistics_check,
)
from tests.integration.test_pipeline import JOBS, _assert_each_ran_once, _jobs


def _application_names(env: dict[str, str], role: str) -> set[str]:
    """What the role's server connections (through PgBouncer or direct) call themselves."""
    with psycopg.connect(env["RECORDER_DATABASE_URL"], autocommit=True) as conn:
        rows = conn.execute(
            "SELECT DISTINCT application_name FROM pg_stat_activity WHERE usename = %s", (role,)
        ).fetchall()
    return {str(r[0]) for r in rows}


@pytest.mark.parametrize("intake", ["kafka", "direct"])
def test_2000_jobs_through_pgbouncer_each_run_exactly_once(
    env: dict[str, str],
    runs_table: str,
    settings: Settings,
    role: str,
    pgbouncer_address: str,
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
        assert len(_jobs(config_id, 42)) == JOBS
        assert "jobline-jobs" in _application_names(env, role)
        # The server's pools are PgBouncer's clients: the jobs went through it.
        clients = set(pgbouncer_clients(pgbouncer_address, role))
        assert {("jobline_jobs", "jobline-jobs"), ("jobline_main", "jobline-jobs")} <= clients
        assert server.stop() == 0
    finally:
        server.stop()
    assert not server.events("runner.listen_lost")


def test_a_failing_job_through_pgbouncer_is_retried_then_failed(
    env: dict[str, str], runs_table: str, settings: Settings
) -> None:
    env = {**env, "JOBLINE_INTAKE": "direct", "JOBLINE_RETRY_BASE_S": "0.1"}
    config_id = add_config(env, team=7)
    server = ServeProcess(env, "--mode", "jobs")
    try:
        server.wait_ready()
        with Jobs.from_settings(settings.model_copy(update={"intake": IntakeKind.DIRECT})) as jobs:
            jobs.for_config(config_id, team_id=7).job(
                "always_fails", {"n": 1}, max_attempts=2
            ).run_now()
        failed = f"SELECT count(*) FROM {settings.schema_name}.failed_jobs"
        wait_until(
            lambda: scalar(settings.jobs_database_url, failed) == 1, 30, "the job never failed"
        )
        attempts = f"SELECT string_agg(attempt::text, ',' ORDER BY attempt) FROM {runs_table}"
        assert scalar(env["RECORDER_DATABASE_URL"], attempts) == "1,2"
    finally:
        assert server.stop() == 0


def test_a_scheduled_task_through_pgbouncer_runs_on_its_ticks(
    env: dict[str, str], runs_table: str
) -> None:
    env = {**env, "JOBLINE_PLUGINS": "tests.plugins.ticker:plugin", "JOBLINE_INTAKE": "direct"}
    add_config(env, plugin="ticker", team=1)
    server = ServeProcess(env, "--mode", "all")
    runs = f"SELECT count(*) FROM {runs_table} WHERE job_type = '@every2s'"
    try:
        server.wait_ready()
        wait_until(
            lambda: scalar(env["RECORDER_DATABASE_URL"], runs) >= 2, 15, "no 2 s task ran twice"
        )
    finally:
        assert server.stop() == 0


async def _heard_after_update(settings: Settings, listen_url: str) -> bool:
    """Whether a ConfigWatcher listening on `listen_url` hears an update made through
    PgBouncer within 3 s."""
    limits = DbLimits.from_settings(settings, "jobline-test")
    async with opened(main_db_for(settings, limits=limits), migrate_first=True) as main_db:
        config = await main_db.add_config("recorder", 1, {})
        heard: list[int | None] = []
        watcher = ConfigWatcher(listen_url, settings.schema_name, [heard.append], limits)
        await watcher.start()
        try:
            for _ in range(50):
                if watcher.status().detail.startswith("listening"):
                    break
                await asyncio.sleep(0.1)
            heard.clear()
            await main_db.set_enabled(config.id, False)  # through PgBouncer
            for _ in range(30):
                if config.id in heard:
                    return True
                await asyncio.sleep(0.1)
            return False
        finally:
            await watcher.stop(5)


async def test_a_config_change_is_heard_by_listen_on_the_direct_url(settings: Settings) -> None:
    assert settings.main_direct_url != settings.database_url
    assert await _heard_after_update(settings, settings.main_direct_url)


async def test_listen_through_pgbouncer_hears_nothing(settings: Settings) -> None:
    """Why the direct URL exists: PgBouncer hands the LISTENing server connection to
    other clients after each transaction, so the listener never gets the notification."""
    assert not await _heard_after_update(settings, settings.database_url)


async def test_the_fetch_settings_stay_inside_the_fetch_transaction(settings: Settings) -> None:
    """Behind PgBouncer the fetch sets its planner settings per transaction: the server
    connection it used goes back to the pool (and to the next client) with the defaults."""
    async with opened(jobs_db_for(settings), migrate_first=True) as db:
        assert await db.fetch_due("runner-1", 10) == []
        async with db.pool.connection() as conn:  # PgBouncer reuses the last server conn
            cur = await conn.execute(
                "SELECT current_setting('enable_sort'), current_setting('plan_cache_mode')"
            )
            assert await cur.fetchone() == ("on", "auto")


async def test_the_fetch_plan_behind_pgbouncer_is_the_plan_under_the_fetch_settings(
    jobs_db: JobsDB, settings: Settings
) -> None:
    """EXPLAIN of the fetch sets, as the fetch does, its planner settings in its own
    transaction: without them, 100k jobs under stale statistics get a sort plan."""
    await stale_statistics_check(jobs_db, settings)


def test_migrate_puts_the_schema_on_the_roles_search_path_and_says_so(
    env: dict[str, str], role: str
) -> None:
    done = run_jobline(env, "migrate", check=True)
    assert "JOBLINE_DB_SCHEMA_FROM=role: set the connecting role's search_path" in done.stdout
    settings_of_role = (
        "SELECT d.datname, s.setconfig FROM pg_db_role_setting s "
        "JOIN pg_roles r ON r.oid = s.setrole JOIN pg_database d ON d.oid = s.setdatabase "
        "WHERE r.rolname = %s ORDER BY d.datname"
    )
    with psycopg.connect(env["RECORDER_DATABASE_URL"], autocommit=True) as conn:
        rows = conn.execute(settings_of_role, (role,)).fetchall()
    assert [r[0] for r in rows] == ["jobline_jobs", "jobline_main"]
    schema = env["JOBLINE_SCHEMA"]
    for _, config in rows:
        assert f"search_path={schema}, public" in config
        assert "statement_timeout=30000ms" in config, config


async def test_the_sampler_holds_its_election_lock_on_the_direct_url(
    settings: Settings, role: str, pgbouncer_address: str
) -> None:
    """The sampler's leader lock is session state: through PgBouncer its connection (with
    the `options` it used to send) was refused, and a lock there would leak to other
    clients of the server connection."""
    async with opened(jobs_db_for(settings), migrate_first=True) as db:
        sampler = SamplerService(db, interval_s=0.2, dead_after_s=30)
        await sampler.start()
        try:
            for _ in range(50):
                if sampler.leader:
                    break
                await asyncio.sleep(0.1)
            assert sampler.leader, sampler.status().detail
            clients = {name for _, name in pgbouncer_clients(pgbouncer_address, role)}
            assert "jobline-health" not in clients
        finally:
            await sampler.stop(1.0)
