"""The jobs DB's semantics, against the real PostgreSQL (DESIGN §6)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import psycopg

from jobline import JobMessage
from jobline.config import Settings
from jobline.store import FailedAttempt, JobsDB, RescueParams, RunnerBeat


def _job(
    n: int,
    *,
    delay_s: float = -1,
    priority: int = 0,
    queue: str | None = None,
    max_attempts: int | None = None,
) -> JobMessage:
    return JobMessage.create(
        type="record",
        payload={"n": n},
        plugin_config_id=1,
        team_id=1,
        run_at=datetime.now(UTC) + timedelta(seconds=delay_s),
        priority=priority,
        queue=queue,
        max_attempts=max_attempts,
    )


async def test_fetch_returns_due_jobs_by_priority_then_run_at_and_locks_them(
    jobs_db: JobsDB,
) -> None:
    await jobs_db.insert_jobs(
        [_job(1, priority=5), _job(2, delay_s=-10), _job(3), _job(4, delay_s=60)]
    )
    fetched = await jobs_db.fetch_due("r1", 10)
    assert [j.payload["n"] for j in fetched] == [2, 3, 1]
    assert await jobs_db.fetch_due("r2", 10) == []


async def test_concurrent_fetches_never_hand_out_the_same_job(jobs_db: JobsDB) -> None:
    await jobs_db.insert_jobs([_job(n) for n in range(500)])
    batches = await asyncio.gather(*(jobs_db.fetch_due(f"r{i}", 60) for i in range(8)))
    ids = [j.id for batch in batches for j in batch]
    assert len(ids) == len(set(ids)) == 480


async def test_jobs_of_one_queue_run_one_at_a_time_in_order(jobs_db: JobsDB) -> None:
    await jobs_db.insert_jobs([_job(n, queue="q") for n in range(3)] + [_job(9)])
    first = await jobs_db.fetch_due("r1", 10)
    assert sorted(j.payload["n"] for j in first) == [0, 9]
    assert await jobs_db.fetch_due("r2", 10) == []
    head = next(j for j in first if j.queue_name == "q")
    await jobs_db.complete("r1", [head.id])
    second = await jobs_db.fetch_due("r2", 10)
    assert [j.payload["n"] for j in second] == [1]


async def test_complete_deletes_only_jobs_this_runner_holds(jobs_db: JobsDB) -> None:
    await jobs_db.insert_jobs([_job(1)])
    [job] = await jobs_db.fetch_due("r1", 1)
    assert await jobs_db.complete("someone-else", [job.id]) == 0
    assert await jobs_db.complete("r1", [job.id]) == 1
    assert (await jobs_db.queue_counts()).running == 0


async def test_failures_retry_with_their_run_at_or_move_to_failed_jobs(
    jobs_db: JobsDB,
    settings: Settings,
) -> None:
    await jobs_db.insert_jobs([_job(1), _job(2)])
    a, b = await jobs_db.fetch_due("r1", 2)
    retry_at = datetime.now(UTC) + timedelta(seconds=30)
    await jobs_db.record_failures(
        "r1", [FailedAttempt(a.id, "boom", retry_at), FailedAttempt(b.id, "final boom", None)]
    )
    counts = await jobs_db.queue_counts()
    assert (counts.due, counts.scheduled, counts.running, counts.failed) == (0, 1, 0, 1)
    with psycopg.connect(settings.jobs_database_url) as conn:
        row = conn.execute(
            f"SELECT attempts, last_error, run_at FROM {settings.schema_name}.jobs"
        ).fetchone()
        assert row is not None and row[0] == 1 and row[1] == "boom"
        assert abs((row[2] - retry_at).total_seconds()) < 0.01
        failed = conn.execute(
            f"SELECT id, attempts, last_error FROM {settings.schema_name}.failed_jobs"
        ).fetchone()
        assert failed == (b.id, 1, "final boom")


async def test_jobs_of_a_runner_whose_heartbeat_stopped_are_rescued(
    jobs_db: JobsDB,
    settings: Settings,
) -> None:
    await jobs_db.insert_jobs([_job(1), _job(2, max_attempts=1)])
    await jobs_db.heartbeat(RunnerBeat("dead-runner", "host", 1, ("runner",)))
    await jobs_db.heartbeat(RunnerBeat("live-runner", "host", 2, ("runner",)))
    await jobs_db.fetch_due("dead-runner", 2)
    with psycopg.connect(settings.jobs_database_url, autocommit=True) as conn:
        conn.execute(
            f"UPDATE {settings.schema_name}.runners SET heartbeat_at = now() - interval '1 min'"
            " WHERE id = 'dead-runner'"
        )
    rescued = await jobs_db.rescue_dead_runners(
        RescueParams(dead_after_s=30, default_max_attempts=3)
    )
    assert len(rescued) == 2
    # job 1 is due again with the attempt counted; job 2 had only one attempt to give
    [again] = await jobs_db.fetch_due("live-runner", 10)
    assert again.payload == {"n": 1} and again.attempts == 1
    assert (await jobs_db.queue_counts()).failed == 1
    assert await jobs_db.rescue_dead_runners(RescueParams(30, 3)) == []


async def test_fetch_uses_the_due_index_on_a_never_analyzed_table_of_100k_jobs(
    jobs_db: JobsDB,
    settings: Settings,
) -> None:
    with psycopg.connect(settings.jobs_database_url, autocommit=True) as conn:
        # keep autovacuum from analyzing it behind the test's back
        conn.execute(f"ALTER TABLE {settings.schema_name}.jobs SET (autovacuum_enabled = false)")
    for start in range(0, 100_000, 20_000):
        await jobs_db.insert_jobs([_job(n) for n in range(start, start + 20_000)])
    with psycopg.connect(settings.jobs_database_url, autocommit=True) as conn:
        analyzed = conn.execute(
            "SELECT last_analyze, last_autoanalyze FROM pg_stat_user_tables "
            "WHERE relname = 'jobs' AND schemaname = %s",
            (settings.schema_name,),
        ).fetchone()
    assert analyzed == (None, None)
    plan = await jobs_db.explain_fetch(100)
    assert "Index Scan using jobs_due_idx" in plan, plan
    assert "Sort" not in plan and "Bitmap" not in plan and "Seq Scan" not in plan, plan
    assert "Index Cond: (id = ANY" in plan, plan
    started = time.perf_counter()
    assert len(await jobs_db.fetch_due("r", 100)) == 100
    assert time.perf_counter() - started < 0.2


async def test_fetch_stays_on_the_due_index_when_statistics_are_stale(
    jobs_db: JobsDB,
    settings: Settings,
) -> None:
    with psycopg.connect(settings.jobs_database_url, autocommit=True) as conn:
        conn.execute(f"ALTER TABLE {settings.schema_name}.jobs SET (autovacuum_enabled = false)")
        conn.execute(f"ANALYZE {settings.schema_name}.jobs")  # statistics of an empty table
    for start in range(0, 100_000, 20_000):
        await jobs_db.insert_jobs([_job(n) for n in range(start, start + 20_000)])
    plan = await jobs_db.explain_fetch(100)
    assert "Index Scan using jobs_due_idx" in plan, plan
    assert "Sort" not in plan and "Bitmap" not in plan and "Seq Scan" not in plan, plan
    assert "Index Cond: (id = ANY" in plan, plan


def _keyed(
    n: int, key: str, mode: str = "replace", config: int = 1, delay_s: float = -1
) -> JobMessage:
    return JobMessage.create(
        type="record",
        payload={"n": n},
        plugin_config_id=config,
        team_id=1,
        key=key,
        key_mode=mode,
        run_at=datetime.now(UTC) + timedelta(seconds=delay_s),
    )


async def _payloads(jobs_db: JobsDB, settings: Settings) -> list[tuple[object, ...]]:
    with psycopg.connect(settings.jobs_database_url) as conn:
        return conn.execute(
            f"SELECT plugin_config_id, key, payload->>'n', locked_by IS NOT NULL "
            f"FROM {settings.schema_name}.jobs ORDER BY id"
        ).fetchall()


async def test_a_keyed_trigger_replaces_the_queued_job_with_its_key(
    jobs_db: JobsDB,
    settings: Settings,
) -> None:
    await jobs_db.insert_jobs([_keyed(1, "k", delay_s=60)])
    await jobs_db.insert_jobs([_keyed(2, "k", delay_s=-1)])
    assert await _payloads(jobs_db, settings) == [(1, "k", "2", False)]
    [job] = await jobs_db.fetch_due("r", 10)  # the new run_at came along: due now
    assert job.payload == {"n": 2}


async def test_a_preserve_trigger_keeps_the_queued_job(
    jobs_db: JobsDB,
    settings: Settings,
) -> None:
    await jobs_db.insert_jobs([_keyed(1, "k")])
    await jobs_db.insert_jobs([_keyed(2, "k", mode="preserve")])
    assert await _payloads(jobs_db, settings) == [(1, "k", "1", False)]


async def test_a_running_job_gives_its_key_to_the_next_trigger(
    jobs_db: JobsDB,
    settings: Settings,
) -> None:
    await jobs_db.insert_jobs([_keyed(1, "k")])
    [running] = await jobs_db.fetch_due("r", 10)
    await jobs_db.insert_jobs([_keyed(2, "k")])
    assert await _payloads(jobs_db, settings) == [(1, None, "1", True), (1, "k", "2", False)]
    # the running job's retry no longer collides with the queued one
    await jobs_db.record_failures("r", [FailedAttempt(running.id, "boom", datetime.now(UTC))])
    assert len(await _payloads(jobs_db, settings)) == 2


async def test_keys_are_scoped_by_plugin_config_and_folded_within_a_batch(
    jobs_db: JobsDB,
    settings: Settings,
) -> None:
    await jobs_db.insert_jobs(
        [
            _keyed(1, "k", config=1),
            _keyed(2, "k", config=2),
            _keyed(3, "k", config=1),
            _keyed(4, "k", "preserve", config=2),
        ]
    )
    assert sorted(await _payloads(jobs_db, settings)) == [
        (1, "k", "3", False),
        (2, "k", "2", False),
    ]


async def test_jobline_connections_run_without_jit(jobs_db: JobsDB) -> None:
    """JIT compiled each 0.3 ms fetch for ~35 ms once the table's estimate crossed
    jit_above_cost: every jobline connection turns it off (dburl.DbLimits.options)."""
    async with jobs_db.pool.connection() as conn:
        cur = await conn.execute("SELECT current_setting('jit')")
        assert await cur.fetchone() == ("off",)
