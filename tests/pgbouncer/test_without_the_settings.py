"""Through PgBouncer in transaction mode, jobline's default connection set-up fails, clearly.

Each test takes away one setting that conftest.env gives, and shows the failure it
prevents: the settings are not decoration.
"""

from __future__ import annotations

import psycopg
import pytest

from jobline.config import SchemaFrom, Settings
from jobline.databases import jobs_db_for
from jobline.dburl import DbLimits
from jobline.errors import ConfigError, IntakeUnavailable
from jobline.migrator import opened
from tests.devenv import run_jobline


async def test_the_options_startup_parameter_is_refused_by_pgbouncer(settings: Settings) -> None:
    limits = DbLimits(schema_from=SchemaFrom.OPTIONS, prepared_statements=False)
    db = jobs_db_for(settings, limits=limits)
    with pytest.raises(IntakeUnavailable) as caught:
        await db.open(timeout_s=5)
    assert "unsupported startup parameter: options" in str(caught.value)
    assert "JOBLINE_JOBS_DATABASE_URL" in str(caught.value)


def _run_one_query_often(url: str, limits: DbLimits) -> None:
    """Two clients in turn run the same statement more often than psycopg's prepare
    threshold (5): PgBouncer gives both the same server connection."""
    first = psycopg.connect(url, autocommit=True, **limits.connect_kwargs())
    second = psycopg.connect(url, autocommit=True, **limits.connect_kwargs())
    with first, second:
        for conn in (first, second):
            for n in range(8):
                conn.execute("SELECT %s::int + 1", (n,))


def test_prepared_statements_break_behind_pgbouncer(settings: Settings) -> None:
    limits = DbLimits(schema_from=SchemaFrom.ROLE, prepared_statements=True)
    with pytest.raises(psycopg.Error, match='prepared statement "_pg3_0"'):
        _run_one_query_often(settings.jobs_database_url, limits)


def test_without_prepared_statements_the_same_queries_pass(settings: Settings) -> None:
    limits = DbLimits(schema_from=SchemaFrom.ROLE, prepared_statements=False)
    _run_one_query_often(settings.jobs_database_url, limits)


async def test_a_role_without_the_schema_on_its_search_path_fails_at_start(
    settings: Settings,
) -> None:
    """Before `jobline migrate` set the role's search_path, a process refuses to start and
    says how to fix it (instead of failing later on 'relation does not exist')."""
    with pytest.raises(ConfigError) as caught:
        async with opened(jobs_db_for(settings), migrate_first=False):
            pass
    message = str(caught.value)
    assert "JOBLINE_DB_SCHEMA_FROM=role" in message
    assert f"SET search_path = {settings.schema_name}, public" in message
    assert "jobline migrate" in message


def test_serve_with_the_default_settings_stops_naming_the_pooler_settings(
    env: dict[str, str],
) -> None:
    """The whole process, as an operator meets it: PgBouncer in front, no settings."""
    env = {**env, "JOBLINE_DB_SCHEMA_FROM": "options", "JOBLINE_DB_PREPARED_STATEMENTS": "true"}
    done = run_jobline(env, "serve", "--mode", "jobs", check=False, timeout_s=60)
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert "unsupported startup parameter: options" in output
    assert "JOBLINE_DB_SCHEMA_FROM=role" in output
