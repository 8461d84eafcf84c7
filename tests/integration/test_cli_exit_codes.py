"""`jobline` as a user runs it: distinct exit codes, --version, migrate --status/--sql."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from jobline.cli.common import complete_plugin
from jobline.cli.dlq import _complete_reason
from jobline.config import Settings

from .helpers import ROOT
from .ops_helpers import cli, ops, sql

__all__ = ["ops"]


def jobline(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jobline.cli", *args],
        env={**os.environ, **env, "PYTHONPATH": str(ROOT), "COLUMNS": "200"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_exit_codes_tell_usage_configuration_unreachable_and_not_found_apart(
    env: dict[str, str], ops: Settings
) -> None:
    assert jobline(env, "jobs", "list", "--state", "sleeping").returncode == 2
    bad_config = jobline({**env, "JOBLINE_RUNNER_CONCURRENCY": "0"}, "jobs", "list")
    assert bad_config.returncode == 3
    assert "JOBLINE_RUNNER_CONCURRENCY='0'" in bad_config.stderr
    dead_db = {**env, "JOBLINE_JOBS_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/jobs"}
    unreachable = jobline(dead_db, "failed", "list")
    assert unreachable.returncode == 4
    assert "the jobs DB at postgresql://postgres@127.0.0.1:1/jobs did not answer" in (
        unreachable.stderr
    )
    missing = jobline(env, "jobs", "show", "123456")
    assert missing.returncode == 5 and "no queued job with id 123456" in missing.stderr


def test_an_unreachable_kafka_exits_4_from_the_dlq_commands(env: dict[str, str]) -> None:
    result = jobline({**env, "JOBLINE_KAFKA_HOSTS": "127.0.0.1:1"}, "dlq", "stats")
    assert result.returncode == 4
    assert "Kafka at 127.0.0.1:1 did not answer" in result.stderr


def test_version_prints_the_package_version() -> None:
    result = cli("--version")
    assert result.code == 0 and result.stdout.startswith("jobline 0.")


def test_migrate_status_and_sql_show_pending_migrations_without_applying_them(
    settings: Settings,
) -> None:
    status = cli("migrate", "--status", "--json")
    assert status.code == 0, status.stderr
    jobs_db = status.json()[0]
    assert jobs_db["database"] == "jobs DB" and jobs_db["current"] is False
    assert {"version": 7, "name": "operations"} in jobs_db["pending"]
    pending_sql = cli("migrate", "--sql")
    assert "CREATE TABLE audit_log" in pending_sql.stdout
    assert f'SET search_path TO "{settings.schema_name}";' in pending_sql.stdout
    assert cli("migrate", "--status", "--json").json()[0]["applied"] == []


def test_a_schema_behind_the_migrations_is_named_with_the_fix(
    ops: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOBLINE_MIGRATE_ON_START", "false")
    sql(ops.jobs_database_url, ops.schema_name, "DROP TABLE paused_configs")
    result = cli("jobs", "list")
    assert result.code == 1
    assert "behind this jobline's migrations" in result.stderr
    assert "jobline migrate --status" in result.stderr


def test_shell_completion_offers_plugins_and_dlq_reasons(settings: Settings) -> None:
    assert complete_plugin("rec") == ["recorder"]
    assert _complete_reason("not_") == ["not_json", "not_object"]


def test_commands_that_need_only_the_jobs_db_work_while_the_main_db_is_down(
    ops: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOBLINE_DATABASE_URL", "postgresql://postgres@127.0.0.1:1/main")
    assert cli("runners", "list", "--json").code == 0
    assert cli("jobs", "list", "--type", "record", "--json").json()["total"] == 0
    needs_main = cli("jobs", "list", "--plugin", "recorder")
    assert needs_main.code == 4 and "the main DB at" in needs_main.stderr
