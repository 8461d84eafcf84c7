"""Every jobs-DB connection carries its limits: no call waits on a lock for ever."""

from __future__ import annotations

import time

import psycopg
import pytest

from jobline import JobMessage
from jobline.config import Settings
from jobline.dburl import DbLimits
from jobline.store import JobsDB
from tests.db_route import not_through_pgbouncer

# With JOBLINE_DB_SCHEMA_FROM=role the timeouts are the role's settings (`jobline migrate`
# sets them; tests/pgbouncer checks that), not the options these tests give a connection.
role_timeouts = not_through_pgbouncer(
    "the server-side timeouts come from the role's settings there, not from DbLimits' options"
)


@role_timeouts
async def test_pool_connections_have_the_statement_and_lock_timeouts(
    settings: Settings, jobs_db: JobsDB
) -> None:
    limits = DbLimits(statement_timeout_s=7, lock_timeout_s=0.5)
    db = JobsDB(settings.jobs_database_url, settings.schema_name, limits=limits)
    await db.open()
    try:
        async with db._pool.connection() as conn:
            cur = await conn.execute(
                "SELECT current_setting('statement_timeout'), current_setting('lock_timeout')"
            )
            assert await cur.fetchone() == ("7s", "500ms")
        async with db._fetch_pool.connection() as conn:
            cur = await conn.execute("SELECT current_setting('lock_timeout')")
            assert await cur.fetchone() == ("500ms",)
    finally:
        await db.close()


@role_timeouts
async def test_an_outcome_write_behind_a_long_transaction_fails_after_the_lock_timeout(
    settings: Settings, jobs_db: JobsDB
) -> None:
    limits = DbLimits(lock_timeout_s=0.5)
    db = JobsDB(settings.jobs_database_url, settings.schema_name, limits=limits)
    await db.open()
    await jobs_db.insert_jobs(
        [JobMessage.create(type="record", payload={}, plugin_config_id=1, team_id=1)]
    )
    [job] = await db.fetch_due("r1", 1)
    try:
        with psycopg.connect(settings.jobs_database_url) as holder:
            holder.execute(
                f"SELECT 1 FROM {settings.schema_name}.jobs WHERE id = %s FOR UPDATE", (job.id,)
            )
            started = time.monotonic()
            with pytest.raises(psycopg.errors.LockNotAvailable):
                await db.complete_held("r1", [job.id])
            assert time.monotonic() - started < 3
    finally:
        await db.close()
