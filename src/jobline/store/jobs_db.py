"""JobsDB: every read and write of the jobs DB, by name (SQL in sql/queries.sql)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool

from jobline.dburl import DbLimits, connect_error, connect_session, unreachable_message
from jobline.errors import IntakeUnavailable
from jobline.job import JobMessage, KeyMode
from jobline.job.keys import fold_keyed, key_scope
from jobline.migrator import migrate_database
from jobline.sqlfiles import load_queries
from jobline.store.refusals import Refusals, write_splitting
from jobline.store.rows import IntakeBatchResult, QueueCounts, RefusedJob
from jobline.store.runner_ops import RunnerOps

Q = load_queries("jobline.store.sql", "queries.sql")

#: sends refused jobs to the DLQ; awaited inside the batch's transaction, before its commit
DeadLetter = Callable[[Sequence[RefusedJob]], Awaitable[None]]


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


class JobsDB(RunnerOps):
    """A pool of connections to the jobs DB, every statement in the project's schema."""

    def __init__(
        self,
        url: str,
        schema: str,
        *,
        min_size: int = 1,
        max_size: int = 10,
        limits: DbLimits | None = None,
        direct_url: str | None = None,
    ) -> None:
        self.url = url
        #: no pooler in between: for LISTEN and other session state (dburl.connect_session)
        self.direct_url = direct_url or url
        self.schema = schema
        self.channel = notify_channel(schema)
        self.limits = limits or DbLimits()
        self.call_timeout_s = self.limits.call_timeout_s
        options = self.limits.session_options(schema)
        self._pool = self._new_pool("jobs-db", options, min_size, max_size)
        # The fetch runs on its own connections, whose planner may not sort or bitmap-scan:
        # the due index, walked in order, is then the only cheap plan, whatever the
        # statistics (never analyzed, or analyzed while the table was empty).
        self._fetch_pool = self._new_pool("jobs-db-fetch", options + FETCH_CONNECTION_OPTIONS, 1, 2)

    def _new_pool(
        self, name: str, options: str, min_size: int, max_size: int
    ) -> AsyncConnectionPool[psycopg.AsyncConnection[TupleRow]]:
        return AsyncConnectionPool(
            self.url,
            min_size=min_size,
            max_size=max_size,
            kwargs={"autocommit": True, **self.limits.connect_kwargs(options)},
            # Waiting for a free connection has the same deadline as a call.
            timeout=self.call_timeout_s,
            open=False,
            name=name,
        )

    async def open(self, timeout_s: float = 10.0) -> None:
        try:
            await self._pool.open(wait=True, timeout=timeout_s)
            await self._fetch_pool.open(wait=True, timeout=timeout_s)
        except Exception as exc:
            await self._pool.close()
            await self._fetch_pool.close()
            kwargs = self._pool.kwargs if isinstance(self._pool.kwargs, dict) else {}
            cause = await connect_error(self.url, kwargs) or exc
            raise IntakeUnavailable(
                unreachable_message("the jobs DB", "JOBLINE_JOBS_DATABASE_URL", self.url, cause)
            ) from exc

    async def close(self) -> None:
        await self._fetch_pool.close()
        await self._pool.close()

    @property
    def pool(self) -> AsyncConnectionPool[psycopg.AsyncConnection[TupleRow]]:
        """The shared pool, for the store's other modules (ticks.py)."""
        return self._pool

    async def migrate(self) -> list[int]:
        return await migrate_database(
            self.direct_url,  # DDL and role settings: not through a pooler
            self.schema,
            "jobline.store.migrations",
            what="the jobs DB",
            variable="JOBLINE_JOBS_DATABASE_URL",
            limits=self.limits,
        )

    def connection(self) -> AbstractAsyncContextManager[psycopg.AsyncConnection[TupleRow]]:
        """A pooled connection (autocommit, the project's schema) for store/admin.py."""
        return self._pool.connection()

    async def _execute(self, name: str, params: Mapping[str, Any]) -> int:
        async with asyncio.timeout(self.call_timeout_s), self._pool.connection() as conn:
            cur = await conn.execute(Q[name], params)
            return cur.rowcount

    async def _fetchall(self, name: str, params: Mapping[str, Any]) -> list[TupleRow]:
        async with asyncio.timeout(self.call_timeout_s), self._pool.connection() as conn:
            cur = await conn.execute(Q[name], params)
            return await cur.fetchall()

    # --- triggers and intake -------------------------------------------------------------

    async def insert_jobs(self, jobs: Sequence[JobMessage]) -> int:
        """Insert jobs and wake the runners, in one transaction (direct intake)."""
        if not jobs:
            return 0
        async with self._pool.connection() as conn, conn.transaction():
            await self._write_jobs(conn, jobs)
            await self._notify(conn, jobs)
        return len(jobs)

    async def _write_jobs(
        self, conn: psycopg.AsyncConnection[TupleRow], jobs: Sequence[JobMessage]
    ) -> None:
        """Insert jobs (job keys applied) inside the caller's transaction."""
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
        dead_letter: DeadLetter,
        statement_timeout_s: float,
    ) -> IntakeBatchResult:
        """Write a batch's jobs and its next offsets in ONE transaction.

        `jobs` holds (partition, offset, job) for every message of the batch; job is None
        for a message that went to the DLQ (its offset still advances). Messages below the
        offset already stored for their partition were persisted before (a replay after a
        crash or a rebalance) and are skipped, so a job is never stored twice. Jobs the
        jobs DB refuses are found by splitting the batch and handed to `dead_letter`
        before the commit: if it raises, nothing is committed.
        """
        partitions = [r.partition for r in ranges]
        async with self._pool.connection() as conn, conn.transaction():
            await conn.execute(
                Q["set_statement_timeout"], {"ms": str(max(1, int(statement_timeout_s * 1000)))}
            )
            cur = await conn.execute(
                Q["lock_offsets"], {"group": group, "topic": topic, "partitions": partitions}
            )
            stored = {int(r[0]): int(r[1]) for r in await cur.fetchall()}
            fresh = [
                (partition, offset, job)
                for partition, offset, job in jobs
                if job is not None and offset >= stored.get(partition, -1)
            ]
            duplicates = sum(1 for p, o, j in jobs if j is not None and o < stored.get(p, -1))
            found = Refusals()
            if fresh:
                await write_splitting(conn, fresh, self._write_jobs, found)
            if found.refused:
                await dead_letter(found.refused)
            refused = found.offsets()
            written = [job for p, o, job in fresh if (p, o) not in refused]
            if written:
                await self._notify(conn, written)
            await conn.execute(
                Q["save_offsets"],
                {
                    "group": group,
                    "topic": topic,
                    "partitions": partitions,
                    "offsets": [r.next_offset for r in ranges],
                },
            )
        return IntakeBatchResult(len(written), duplicates, tuple(found.refused), found.splits)

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

    async def listen_connection(self) -> psycopg.AsyncConnection[TupleRow]:
        """A connection of its own for LISTEN (on the direct URL), under the pools' limits."""
        conn = await asyncio.wait_for(
            connect_session(self.direct_url, self.limits), timeout=self.call_timeout_s
        )
        await conn.execute(self.listen_statement())
        return conn

    def listen_statement(self) -> sql.Composed:
        return sql.SQL("LISTEN {}").format(sql.Identifier(self.channel))
