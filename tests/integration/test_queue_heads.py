"""Named queues through their heads (migration 0008), against the real PostgreSQL: what the
in-memory fake does not model (paused configs, concurrent transactions, failed jobs put back
under their old id, the fetch's plan). The rules themselves are tests/conformance cases."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from jobline import JobMessage
from jobline.config import Settings
from jobline.store import FailedAttempt, JobsDB
from jobline.store.admin import AdminStore
from jobline.store.connection import FETCH_CONNECTION_OPTIONS, Q


def _job(n: int, *, queue: str | None = "q", config: int = 1) -> JobMessage:
    return JobMessage.create(
        type="record",
        payload={"n": n},
        plugin_config_id=config,
        team_id=1,
        run_at=datetime.now(UTC) - timedelta(seconds=1),
        queue=queue,
    )


async def _ns(jobs_db: JobsDB, runner: str = "r1") -> list[int]:
    return [j.payload["n"] for j in await jobs_db.fetch_due(runner, 100)]


def _sql(settings: Settings, statement: str) -> None:
    with psycopg.connect(settings.jobs_database_url, autocommit=True) as conn:
        conn.execute(f"SET search_path TO {settings.schema_name}")
        conn.execute(statement.encode())


async def test_a_paused_configs_head_holds_its_queue_until_the_config_resumes(
    jobs_db: JobsDB, settings: Settings
) -> None:
    _sql(settings, "INSERT INTO paused_configs (plugin_config_id, paused_by) VALUES (7, 'test')")
    await jobs_db.insert_jobs([_job(1, config=7), _job(2), _job(3, queue=None)])
    assert await _ns(jobs_db) == [3]
    _sql(settings, "DELETE FROM paused_configs")
    assert await _ns(jobs_db) == [1]


async def test_a_job_inserted_while_its_queues_head_is_being_deleted_becomes_the_head(
    jobs_db: JobsDB, settings: Settings
) -> None:
    await jobs_db.insert_jobs([_job(1)])
    [head] = await jobs_db.fetch_due("r1", 10)
    async with await psycopg.AsyncConnection.connect(settings.jobs_database_url) as conn:
        await conn.execute(f"SET search_path TO {settings.schema_name}")
        # The head's completion, not yet committed, while a trigger of its queue comes in:
        # the insert must wait for it, or it would see the head still there and the
        # completion would not see the new job, and the queue would have no head at all.
        await conn.execute("DELETE FROM jobs WHERE id = %s", (head.id,))
        insert = asyncio.create_task(jobs_db.insert_jobs([_job(2)]))
        await asyncio.sleep(0.3)
        await conn.commit()
    await insert
    assert await _ns(jobs_db) == [2]


async def test_a_failed_job_put_back_under_its_lower_id_runs_next_in_its_queue(
    jobs_db: JobsDB,
) -> None:
    await jobs_db.insert_jobs([_job(1), _job(2), _job(3)])
    [first] = await jobs_db.fetch_due("r1", 10)
    await jobs_db.record_failures("r1", [FailedAttempt(first.id, "boom", None)])
    [second] = await jobs_db.fetch_due("r1", 10)
    retried = await AdminStore(jobs_db).retry_failed([first.id], [datetime.now(UTC)], True)
    assert retried == 1
    assert await jobs_db.fetch_due("r2", 10) == []  # job 2 still runs
    await jobs_db.complete("r1", [second.id])
    assert await _ns(jobs_db) == [1]


async def test_the_fetch_walks_none_of_the_jobs_behind_a_running_head(
    jobs_db: JobsDB, settings: Settings
) -> None:
    deep = 5_000
    await jobs_db.insert_jobs([_job(n) for n in range(deep)])
    [head] = await jobs_db.fetch_due("holder", 1)
    await jobs_db.insert_jobs([_job(n, queue=None) for n in range(deep, deep + 10)])
    plan = await _explain_analyze_fetch(settings, 100)
    walked = _index_scan(plan["Plan"], "jobs_due_idx")
    assert walked is not None, json.dumps(plan)
    assert walked["Actual Rows"] <= 10 and walked.get("Rows Removed by Filter", 0) == 0, walked
    assert len(await _ns(jobs_db)) == 10
    assert head.payload["n"] == 0


async def _explain_analyze_fetch(settings: Settings, limit: int) -> dict[str, Any]:
    """The fetch's plan with what it did, on a connection set up as the runners' fetch
    connection; rolled back."""
    options = f"-c search_path={settings.schema_name}{FETCH_CONNECTION_OPTIONS}"
    # Direct (not through a pooler): the test sets the fetch's options on the connection.
    async with await psycopg.AsyncConnection.connect(
        settings.jobs_direct_url, options=options
    ) as conn:
        cur = await conn.execute(
            b"EXPLAIN (ANALYZE, FORMAT JSON) " + Q["fetch_due"].encode(),
            {"runner_id": "explain", "limit": limit},
        )
        row = await cur.fetchone()
        await conn.rollback()
    assert row is not None
    plan: dict[str, Any] = row[0][0]
    return plan


def _index_scan(node: dict[str, Any], index: str) -> dict[str, Any] | None:
    if node.get("Index Name") == index:
        return node
    for child in node.get("Plans", []):
        found = _index_scan(child, index)
        if found is not None:
            return found
    return None
