"""Running operator commands in-process (typer's CliRunner) with the exit codes of `main()`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from unittest.mock import patch

import psycopg
import pytest
from typer.testing import CliRunner

from jobline.cli.common import exit_code_for
from jobline.cli.main import app
from jobline.config import Settings
from jobline.logs import configure_logging


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def _no_logging_setup(*_args: object) -> None:
    """Commands configure logging to the stderr they see, which CliRunner swaps and closes:
    in tests, logs go to the real stderr, configured once."""


def cli(*args: str, input: str | None = None) -> Outcome:
    """`jobline ARGS` in this process; a jobline error gets the exit code main() gives it."""
    configure_logging("json", "warning")
    with (
        patch("jobline.cli.main.configure_logging", _no_logging_setup),
        patch("jobline.cli.common.configure_logging", _no_logging_setup),
    ):
        result = CliRunner().invoke(app, list(args), input=input)
    code = result.exit_code
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        code = exit_code_for(result.exception)
        stderr += str(result.exception)
    return Outcome(code, result.stdout, stderr)


def sql(url: str, schema: str, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """`query` in `schema`, in one transaction that sets its search_path for itself alone
    (no `options`, no session state: the same through PgBouncer as directly)."""
    with psycopg.connect(url) as conn:
        conn.execute("SELECT set_config('search_path', %s, true)", (schema,))
        cur = conn.execute(query, params)  # type: ignore[arg-type]
        return cur.fetchall() if cur.description else []


@pytest.fixture
def ops(settings: Settings) -> Iterator[Settings]:
    """Migrated jobs DB and main DB schemas for this test, dropped after it."""
    migrated = cli("migrate")
    assert migrated.code == 0, migrated.stderr
    yield settings
    for url in (settings.jobs_direct_url, settings.main_direct_url):
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {settings.schema_name} CASCADE")


def add_config(plugin: str = "recorder", team: int = 42) -> int:
    result = cli("configs", "add", "--plugin", plugin, "--team", str(team))
    assert result.code == 0, result.stderr
    return int(result.stdout.strip())


def insert_job(
    s: Settings,
    config_id: int,
    *,
    type: str = "record",
    team: int = 42,
    run_in_s: float = 0,
    attempts: int = 0,
    key: str | None = None,
) -> int:
    rows = sql(
        s.jobs_database_url,
        s.schema_name,
        "INSERT INTO jobs (type, plugin_config_id, team_id, payload, run_at, attempts, key) "
        "VALUES (%s, %s, %s, '{}'::jsonb, now() + make_interval(secs => %s), %s, %s) "
        "RETURNING id",
        (type, config_id, team, run_in_s, attempts, key),
    )
    return int(rows[0][0])


def insert_failed(
    s: Settings,
    job_id: int,
    config_id: int,
    error: str,
    *,
    type: str = "record",
    key: str | None = None,
) -> None:
    sql(
        s.jobs_database_url,
        s.schema_name,
        "INSERT INTO failed_jobs (id, type, plugin_config_id, team_id, payload, run_at, "
        "created_at, attempts, priority, last_error, key) "
        "VALUES (%s, %s, %s, 42, '{}'::jsonb, now(), now(), 3, 0, %s, %s)",
        (job_id, type, config_id, error, key),
    )
