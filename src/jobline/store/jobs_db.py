"""JobsDB: every read and write of the jobs DB, by name (SQL in sql/queries.sql)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool

from jobline.dburl import schema_options, unreachable_message
from jobline.errors import IntakeUnavailable
from jobline.job import JobMessage, KeyMode
from jobline.job.keys import fold_keyed, key_scope
from jobline.migrator import migrate_database
from jobline.sqlfiles import load_queries
from jobline.store.rows import (
    FailedAttempt,
    FetchedJob,
    IntakeBatchResult,
    QueueCounts,
    RescuedJob,
)

Q = load_queries("jobline.store.sql", "queries.sql")


@dataclass(frozen=True)
class OffsetRange:
    """Where an intake batch starts and ends in one partition."""

    partition: int
    first_offset: int
    next_offset: int


# The fetch's connections: no sort or bitmap plans (see fetch_due in sql/queries.sql), a
# plan made for each execution (a cached generic plan is not held to the above), and
# no wait for the WAL flush on commit. A lock is the only thing a fetch writes; if
# PostgreSQL crashes before the WAL writer flushes it (200 ms at most by default), the job
# is simply due again. Completions and failures keep synchronous commits.
FETCH_CONNECTION_OPTIONS = (
    " -c enable_sort=off -c enable_bitmapscan=off -c synchronous_commit=off"
    " -c plan_cache_mode=force_custom_plan"
)


def notify_channel(schema: str) -> str:
    return f"{schema}.jobs"


# How often a batch re-applies keyed `replace` triggers that raced with a runner's fetch.
_KEY_RACE_ATTEMPTS = 5


def _key_params(jobs: Sequence[JobMessage]) -> dict[str, list[Any]]:
    return {
        "plugin_config_ids": [j.plugin_config_id for j in jobs],
        "keys": [j.key for j in jobs],
    }


def _insert_params(jobs: Sequence[JobMessage]) -> dict[str, list[Any]]:
    return {
        "types": [j.type for j in jobs],
        "plugin_config_ids": [j.plugin_config_id for j in jobs],
        "team_ids": [j.team_id for j in jobs],
        "payloads": [json.dumps(j.payload) for j in jobs],
        "metas": [json.dumps(j.model_extra) if j.model_extra else None for j in jobs],
        "run_ats": [j.run_at for j in jobs],
        "max_attempts": [j.max_attempts for j in jobs],
        "keys": [j.key for j in jobs],
        "key_modes": [j.key_mode.value for j in jobs],
        "queue_names": [j.queue for j in jobs],
        "priorities": [j.priority for j in jobs],
    }


class JobsDB:
    """A pool of connections to the jobs DB, every statement in the project's schema."""

    def __init__(self, url: str, schema: str, *, min_size: int = 1, max_size: int = 10) -> None:
        self.url = url
        self.schema = schema
        self.channel = notify_channel(schema)
        self._pool: AsyncConnectionPool[psycopg.AsyncConnection[TupleRow]] = AsyncConnectionPool(
            url,
            min_size=min_size,
            max_size=max_size,
            kwargs={"options": schema_options(schema), "autocommit": True},
            open=False,
            name="jobs-db",
        )
        # The fetch runs on its own connections, whose planner may not sort or bitmap-scan:
        # the due index, walked in order, is then the only cheap plan, whatever the
        # statistics (never analyzed, or analyzed while the table was empty).
        self._fetch_pool: AsyncConnectionPool[psycopg.AsyncConnection[TupleRow]] = (
            AsyncConnectionPool(
                url,
                min_size=1,
                max_size=2,
                kwargs={
                    "options": schema_options(schema) + FETCH_CONNECTION_OPTIONS,
                    "autocommit": True,
                },
                open=False,
                name="jobs-db-fetch",
            )
        )

    async def open(self, timeout_s: float = 10.0) -> None:
        try:
            await self._pool.open(wait=True, timeout=timeout_s)
            await self._fetch_pool.open(wait=True, timeout=timeout_s)
        except Exception as exc:
            await self._pool.close()
            await self._fetch_pool.close()
            raise IntakeUnavailable(
                unreachable_message("the jobs DB", "JOBLINE_JOBS_DATABASE_URL", self.url, exc)
            ) from exc

    async def close(self) -> None:
        await self._fetch_pool.close()
        await self._pool.close()

    async def migrate(self) -> list[int]:
        return await migrate_database(
            self.url,
            self.schema,
            "jobline.store.migrations",
            what="the jobs DB",
            variable="JOBLINE_JOBS_DATABASE_URL",
        )

    def connection(self) -> AbstractAsyncContextManager[psycopg.AsyncConnection[TupleRow]]:
        """A pooled connection (autocommit, the project's schema) for store/admin.py."""
        return self._pool.connection()

    async def _execute(self, name: str, params: Mapping[str, Any]) -> int:
        async with self._pool.connection() as conn:
            cur = await conn.execute(Q[name], params)
            return cur.rowcount

    async def _fetchall(self, name: str, params: Mapping[str, Any]) -> list[TupleRow]:
        async with self._pool.connection() as conn:
            cur = await conn.execute(Q[name], params)
            return await cur.fetchall()

    # --- triggers and intake -------------------------------------------------------------

    async def insert_jobs(self, jobs: Sequence[JobMessage]) -> int:
        """Insert jobs and wake the runners, in one transaction (direct intake)."""
        if not jobs:
            return 0
        async with self._pool.connection() as conn, conn.transaction():
            await self._write_jobs(conn, jobs)
        return len(jobs)

    async def _write_jobs(
        self, conn: psycopg.AsyncConnection[TupleRow], jobs: Sequence[JobMessage]
    ) -> None:
        """Insert jobs (job keys applied) and wake the runners, inside the caller's tx."""
        pending = fold_keyed(jobs)
        for _ in range(_KEY_RACE_ATTEMPTS):
            keyed = [j for j in pending if j.key is not None]
            if keyed:
                await conn.execute(Q["detach_keys"], _key_params(keyed))
            cur = await conn.execute(Q["insert_jobs"], _insert_params(pending))
            written = {(int(r[0]), str(r[1])) for r in await cur.fetchall() if r[1] is not None}
            # A `replace` that wrote nothing met a job locked between the two statements:
            # that job runs now and must give the key up, like any running job.
            pending = [
                j for j in keyed if j.key_mode is KeyMode.REPLACE and key_scope(j) not in written
            ]
            if not pending:
                await self._notify(conn, jobs)
                return
        raise psycopg.errors.SerializationFailure(
            f"{len(pending)} keyed job(s) kept meeting jobs locked by runners; retry the batch"
        )

    async def _notify(
        self, conn: psycopg.AsyncConnection[TupleRow], jobs: Sequence[JobMessage]
    ) -> None:
        # The payload is the batch's earliest run_at (ms): a runner sets its timer by it.
        earliest = min(j.timestamp for j in jobs)
        await conn.execute("SELECT pg_notify(%s, %s)", (self.channel, str(earliest)))

    async def ensure_offsets(self, group: str, topic: str, partitions: Sequence[int]) -> None:
        await self._execute(
            "ensure_offsets", {"group": group, "topic": topic, "partitions": list(partitions)}
        )

    async def load_offsets(
        self, group: str, topic: str, partitions: Sequence[int]
    ) -> dict[int, int]:
        rows = await self._fetchall(
            "load_offsets", {"group": group, "topic": topic, "partitions": list(partitions)}
        )
        return {int(r[0]): int(r[1]) for r in rows}

    async def persist_intake_batch(
        self,
        group: str,
        topic: str,
        jobs: Sequence[tuple[int, int, JobMessage | None]],
        ranges: Sequence[OffsetRange],
    ) -> IntakeBatchResult:
        """Write a batch's jobs and its next offsets in ONE transaction.

        `jobs` holds (partition, offset, job) for every message of the batch; job is None
        for a message that went to the DLQ (its offset still advances). Messages below the
        offset already stored for their partition were persisted before (a replay after a
        crash or a rebalance) and are skipped, so a job is never stored twice.
        """
        partitions = [r.partition for r in ranges]
        async with self._pool.connection() as conn, conn.transaction():
            cur = await conn.execute(
                Q["lock_offsets"], {"group": group, "topic": topic, "partitions": partitions}
            )
            stored = {int(r[0]): int(r[1]) for r in await cur.fetchall()}
            fresh = [
                job
                for partition, offset, job in jobs
                if job is not None and offset >= stored.get(partition, -1)
            ]
            duplicates = sum(1 for p, o, j in jobs if j is not None and o < stored.get(p, -1))
            if fresh:
                await self._write_jobs(conn, fresh)
            await conn.execute(
                Q["save_offsets"],
                {
                    "group": group,
                    "topic": topic,
                    "partitions": partitions,
                    "offsets": [r.next_offset for r in ranges],
                },
            )
        return IntakeBatchResult(persisted=len(fresh), duplicates=duplicates)

    # --- runner --------------------------------------------------------------------------

    async def fetch_due(self, runner_id: str, limit: int) -> list[FetchedJob]:
        async with self._fetch_pool.connection() as conn:
            cur = await conn.execute(Q["fetch_due"], {"runner_id": runner_id, "limit": limit})
            jobs = [FetchedJob(*r) for r in await cur.fetchall()]
        jobs.sort(key=lambda j: (j.priority, j.run_at, j.id))
        return jobs

    async def next_run_at(self) -> datetime | None:
        rows = await self._fetchall("next_run_at", {})
        value = rows[0][0] if rows else None
        return value if isinstance(value, datetime) else None

    async def complete(self, runner_id: str, ids: Sequence[int]) -> int:
        return await self._execute("complete", {"runner_id": runner_id, "ids": list(ids)})

    async def record_failures(self, runner_id: str, failures: Sequence[FailedAttempt]) -> None:
        """Write a batch of failed runs: retries get their backoff, the rest move out."""
        retries = [f for f in failures if f.retry_at is not None]
        finals = [f for f in failures if f.retry_at is None]
        async with self._pool.connection() as conn, conn.transaction():
            if retries:
                await conn.execute(
                    Q["retry"],
                    {
                        "runner_id": runner_id,
                        "ids": [f.job_id for f in retries],
                        "errors": [f.error for f in retries],
                        "run_ats": [f.retry_at for f in retries],
                    },
                )
            if finals:
                await conn.execute(
                    Q["fail_permanently"],
                    {
                        "runner_id": runner_id,
                        "ids": [f.job_id for f in finals],
                        "errors": [f.error for f in finals],
                    },
                )

    async def release(self, runner_id: str, ids: Sequence[int]) -> int:
        return await self._execute("release", {"runner_id": runner_id, "ids": list(ids)})

    async def postpone(self, runner_id: str, ids: Sequence[int], delay_s: float) -> int:
        return await self._execute(
            "postpone", {"runner_id": runner_id, "ids": list(ids), "delay_s": delay_s}
        )

    async def heartbeat(
        self, runner_id: str, hostname: str, pid: int, capabilities: Sequence[str]
    ) -> None:
        await self._execute(
            "heartbeat",
            {
                "runner_id": runner_id,
                "hostname": hostname,
                "pid": pid,
                "capabilities": list(capabilities),
            },
        )

    async def remove_runner(self, runner_id: str) -> None:
        await self._execute("remove_runner", {"runner_id": runner_id})

    async def rescue_dead_runners(
        self, dead_after_s: float, default_max_attempts: int
    ) -> list[RescuedJob]:
        """Unlock the jobs of runners that stopped heartbeating; move used-up ones out."""
        async with self._pool.connection() as conn, conn.transaction():
            cur = await conn.execute(Q["rescue_dead_runners"], {"dead_after_s": dead_after_s})
            rescued = [RescuedJob(*r) for r in await cur.fetchall()]
            used_up = [
                r.id for r in rescued if r.attempts >= (r.max_attempts or default_max_attempts)
            ]
            if used_up:
                await conn.execute(Q["move_to_failed"], {"ids": used_up})
        return rescued

    # --- inspection ----------------------------------------------------------------------

    async def queue_counts(self, dead_after_s: float = 30.0) -> QueueCounts:
        rows = await self._fetchall("queue_counts", {"dead_after_s": dead_after_s})
        due, scheduled, running, failed, oldest, live = rows[0]
        return QueueCounts(
            int(due), int(scheduled), int(running), int(failed), float(oldest), int(live)
        )

    async def explain_fetch(self, limit: int = 100) -> str:
        """The fetch's plan as the runners get it (without running it)."""
        async with self._fetch_pool.connection() as conn:
            cur = await conn.execute(
                b"EXPLAIN " + Q["fetch_due"].encode(), {"runner_id": "explain", "limit": limit}
            )
            return "\n".join(str(r[0]) for r in await cur.fetchall())

    def listen_statement(self) -> sql.Composed:
        return sql.SQL("LISTEN {}").format(sql.Identifier(self.channel))
