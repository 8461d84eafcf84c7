"""`jobline doctor` names the jobs DB's failures: stopped, frozen, connections, long
transactions, an unmigrated schema."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from jobline.store import JobsDB
from tests.db_route import direct_url_of, not_through_pgbouncer

from .doctor_support import closed_port, doctor, silent_listener


def _with_port(url: str, port: int) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{port}"))


def _with_user(url: str, user: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{user}@{parts.hostname}:{parts.port}"))


async def test_doctor_reports_the_jobs_db_stopped_with_check_the_db_action(
    env: dict[str, str],
) -> None:
    url = _with_port(env["JOBLINE_JOBS_DATABASE_URL"], closed_port())
    run = doctor({**env, "JOBLINE_JOBS_DATABASE_URL": url})
    assert run.exit_code == 2
    assert run.elapsed_s < 10
    assert run.check("jobs_db.reachable")["status"] == "fail"
    assert run.check("kafka.reachable")["status"] == "ok"
    assert run.verdict["stage"] == "jobs DB"
    assert "check the jobs DB" in run.verdict["action"]["text"]


async def test_doctor_reports_a_frozen_jobs_db_as_timed_out_within_10_seconds(
    env: dict[str, str],
) -> None:
    with silent_listener() as port:
        url = _with_port(env["JOBLINE_JOBS_DATABASE_URL"], port)
        run = doctor({**env, "JOBLINE_JOBS_DATABASE_URL": url})
    assert run.elapsed_s < 10, f"doctor took {run.elapsed_s:.1f} s on a frozen jobs DB"
    assert run.exit_code == 2
    check = run.check("jobs_db.reachable")
    assert check["status"] == "timeout"
    assert "timed out after" in check["evidence"]
    assert run.verdict["stage"] == "jobs DB"


async def test_doctor_reports_an_unmigrated_schema_with_jobline_migrate(
    env: dict[str, str],
) -> None:
    run = doctor(env)  # the test's schema was never created
    assert run.exit_code == 2
    assert run.check("jobs_db.migrations")["status"] == "fail"
    assert run.verdict["action"]["command"] == "jobline migrate"


# PgBouncer queues a client beyond its pool instead of passing PostgreSQL's refusal on, and
# the fixture's role is not one PgBouncer knows: these check PostgreSQL's own limit.
connection_limit = not_through_pgbouncer(
    "the connection-limit checks need PostgreSQL's own refusal, which PgBouncer queues"
)


@pytest.fixture
def limited_role(env: dict[str, str], jobs_db: JobsDB) -> Iterator[str]:
    """A role that may hold 2 connections: its limit stands in for max_connections, which
    the shared test server must not run out of. The doctor connects as this role."""
    role = f"doctor_{env['JOBLINE_SCHEMA']}"
    url = env["JOBLINE_JOBS_DATABASE_URL"]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN CONNECTION LIMIT 2")
        conn.execute(f"GRANT pg_read_all_data, pg_read_all_stats TO {role}")
    yield role
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (role,)
        )
        conn.execute(f"DROP ROLE IF EXISTS {role}")


@connection_limit
async def test_doctor_fails_when_connections_reach_the_limit(
    env: dict[str, str], limited_role: str
) -> None:
    url = _with_user(env["JOBLINE_JOBS_DATABASE_URL"], limited_role)
    with psycopg.connect(url, autocommit=True):  # 1 of 2 held; the doctor takes the 2nd
        run = doctor({**env, "JOBLINE_JOBS_DATABASE_URL": url})
    assert run.exit_code == 2
    check = run.check("jobs_db.connections")
    assert check["status"] == "fail"
    assert "2 of its CONNECTION LIMIT 2" in check["evidence"]
    assert run.verdict["stage"] == "jobs DB"
    assert "pg_stat_activity" in run.verdict["action"]["command"]


@connection_limit
async def test_doctor_names_exhausted_connections_when_it_cannot_connect(
    env: dict[str, str], limited_role: str
) -> None:
    url = _with_user(env["JOBLINE_JOBS_DATABASE_URL"], limited_role)
    with psycopg.connect(url, autocommit=True), psycopg.connect(url, autocommit=True):
        run = doctor({**env, "JOBLINE_JOBS_DATABASE_URL": url})
    assert run.exit_code == 2
    check = run.check("jobs_db.reachable")
    assert check["status"] == "fail"
    assert "too many connections" in check["evidence"]
    assert "connections are exhausted" in check["meaning"]
    assert run.verdict["action"]["text"] == "find who holds the connections"


async def test_doctor_warns_about_a_long_transaction_and_names_its_pid(
    env: dict[str, str], jobs_db: JobsDB
) -> None:
    # Directly: behind PgBouncer, backend_pid would be PgBouncer's, not the server's.
    url = direct_url_of(env, "JOBLINE_JOBS_DATABASE_URL")
    with psycopg.connect(url, application_name="doctor-test-long-tx") as conn:
        pid = conn.info.backend_pid
        conn.execute("SELECT txid_current()")  # opens the transaction, holds an xid
        await asyncio.sleep(1.5)
        run = doctor({**env}, "--long-transaction", "1")
        conn.rollback()
    check = run.check("jobs_db.long_transactions")
    assert check["status"] == "warn"
    assert str(pid) in check["evidence"]
    assert run.exit_code == 1, run.report["verdict"]
    assert run.verdict["stage"] == "jobs DB"
    assert "pg_terminate_backend" in run.verdict["action"]["command"]
