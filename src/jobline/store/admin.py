"""AdminStore: the operations layer's reads and writes of the jobs DB (sql/admin.sql).

It shares the JobsDB's pool. Nothing here is on the runners' hot path, except
`skipped_config_ids` (the intake, every few seconds); a runner reads its own drain request
with its heartbeat through runner_ops.py.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import TupleRow

from jobline.sqlfiles import load_queries
from jobline.store.admin_rows import (
    AppliedMigration,
    AuditEntry,
    FailedJobRow,
    FailureGroup,
    JobRow,
    PausedConfig,
    RowFilter,
    RunnerRow,
    SkippedConfig,
)
from jobline.store.jobs_db import JobsDB

A = load_queries("jobline.store.sql", "admin.sql")

Conn = psycopg.AsyncConnection[TupleRow]


class AdminStore:
    def __init__(self, jobs_db: JobsDB) -> None:
        self.db = jobs_db

    async def _rows(self, name: str, params: Mapping[str, Any]) -> list[TupleRow]:
        async with self.db.connection() as conn:
            cur = await conn.execute(A[name], params)
            return await cur.fetchall()

    async def _count(self, name: str, params: Mapping[str, Any]) -> int:
        async with self.db.connection() as conn:
            cur = await conn.execute(A[name], params)
            return cur.rowcount

    async def _notify(self, conn: Conn, earliest: datetime | None) -> None:
        # Same payload as the intake's: the earliest run_at (ms) sets the runners' timers.
        ms = int((earliest.timestamp() if earliest else 0) * 1000)
        await conn.execute("SELECT pg_notify(%s, %s)", (self.db.channel, str(ms)))

    # --- jobs ----------------------------------------------------------------------------

    async def count_jobs(self, where: RowFilter) -> int:
        return int((await self._rows("count_jobs", where.params()))[0][0])

    async def jobs_page(self, where: RowFilter, after_id: int, limit: int) -> list[JobRow]:
        params = {**where.params(), "after_id": after_id, "limit": limit}
        return [JobRow(*r) for r in await self._rows("filter_jobs", params)]

    async def get_job(self, job_id: int) -> JobRow | None:
        rows = await self._rows("get_job", {"id": job_id})
        return JobRow(*rows[0]) if rows else None

    async def run_jobs_now(self, ids: Sequence[int]) -> int:
        async with self.db.connection() as conn, conn.transaction():
            cur = await conn.execute(A["run_jobs_now"], {"ids": list(ids)})
            await self._notify(conn, None)
            return cur.rowcount

    async def reschedule_jobs(self, ids: Sequence[int], run_at: datetime) -> int:
        async with self.db.connection() as conn, conn.transaction():
            cur = await conn.execute(A["reschedule_jobs"], {"ids": list(ids), "run_at": run_at})
            await self._notify(conn, run_at)
            return cur.rowcount

    async def cancel_jobs(self, ids: Sequence[int]) -> int:
        return await self._count("cancel_jobs", {"ids": list(ids)})

    # --- failed jobs ---------------------------------------------------------------------

    async def count_failed(self, where: RowFilter) -> int:
        return int((await self._rows("count_failed", where.params()))[0][0])

    async def failed_page(self, where: RowFilter, after_id: int, limit: int) -> list[FailedJobRow]:
        params = {**where.params(), "after_id": after_id, "limit": limit}
        return [FailedJobRow(*r) for r in await self._rows("filter_failed", params)]

    async def get_failed(self, job_id: int) -> FailedJobRow | None:
        rows = await self._rows("get_failed", {"id": job_id})
        return FailedJobRow(*rows[0]) if rows else None

    async def group_failed(self, where: RowFilter, limit: int) -> list[FailureGroup]:
        params = {**where.params(), "limit": limit}
        return [FailureGroup(*r) for r in await self._rows("group_failed", params)]

    async def retry_failed(
        self, ids: Sequence[int], run_ats: Sequence[datetime], reset_attempts: bool
    ) -> int:
        """Re-queue failed jobs; returns how many went back (a held key keeps one failed)."""
        params = {"ids": list(ids), "run_ats": list(run_ats), "reset_attempts": reset_attempts}
        async with self.db.connection() as conn, conn.transaction():
            cur = await conn.execute(A["retry_failed"], params)
            requeued = cur.rowcount
            if requeued:
                await self._notify(conn, min(run_ats))
            return requeued

    async def delete_failed(self, ids: Sequence[int]) -> int:
        return await self._count("delete_failed", {"ids": list(ids)})

    # --- audit ---------------------------------------------------------------------------

    async def audit(
        self, actor: str, action: str, filter: Mapping[str, Any], affected: int
    ) -> None:
        params = {
            "actor": actor,
            "action": action,
            "filter": json.dumps(filter, default=str),
            "affected": affected,
        }
        await self._count("insert_audit", params)

    async def recent_audit(self, limit: int) -> list[AuditEntry]:
        return [AuditEntry(*r) for r in await self._rows("recent_audit", {"limit": limit})]

    # --- plugin configs ------------------------------------------------------------------

    async def set_config_flag(self, query: str, config_id: int, actor: str) -> bool:
        """pause_config / resume_config / skip_config / unskip_config: True if it changed."""
        return await self._count(query, {"config_id": config_id, "actor": actor}) > 0

    async def paused_configs(self) -> list[PausedConfig]:
        return [PausedConfig(*r) for r in await self._rows("paused_configs", {})]

    async def skipped_configs(self) -> list[SkippedConfig]:
        return [SkippedConfig(*r) for r in await self._rows("skipped_configs", {})]

    async def skipped_config_ids(self) -> frozenset[int]:
        return frozenset(int(r[0]) for r in await self._rows("skipped_config_ids", {}))

    # --- runners -------------------------------------------------------------------------

    async def list_runners(self) -> list[RunnerRow]:
        return [RunnerRow(*r) for r in await self._rows("list_runners", {})]

    async def drain_runner(self, runner_id: str) -> bool:
        return bool(await self._rows("drain_runner", {"runner_id": runner_id}))

    # --- DLQ replays ---------------------------------------------------------------------

    @asynccontextmanager
    async def claiming_replay(
        self, topic: str, partition: int, offset: int, actor: str, edited: bool
    ) -> AsyncIterator[bool]:
        """Claim a DLQ offset for replay inside a transaction that commits when the block
        ends without error: yields False if it was replayed already (do nothing then)."""
        params = {
            "topic": topic,
            "partition": partition,
            "offset": offset,
            "actor": actor,
            "edited": edited,
        }
        async with self.db.connection() as conn, conn.transaction():
            cur = await conn.execute(A["claim_dlq_replay"], params)
            yield bool(await cur.fetchall())

    async def replayed_offsets(self, topic: str, partitions: Sequence[int]) -> set[tuple[int, int]]:
        rows = await self._rows("dlq_replayed", {"topic": topic, "partitions": list(partitions)})
        return {(int(r[0]), int(r[1])) for r in rows}


async def applied_migrations(conn: Conn) -> list[AppliedMigration]:
    """The schema_migrations rows of the connection's schema (none if never migrated)."""
    cur = await conn.execute(A["migrations_table_exists"])
    row = await cur.fetchone()
    if not row or not row[0]:
        return []
    cur = await conn.execute(A["applied_migrations"])
    return [AppliedMigration(*r) for r in await cur.fetchall()]


class SkipList:
    """The intake's skip list: JOBLINE_INTAKE_SKIP_CONFIGS plus `jobline configs skip`.

    The stored part is re-read at most every `refresh_s`, so a skip takes effect without a
    restart. A failed read keeps the last list (the batch's own write will meet the same
    failing jobs DB and be retried).
    """

    def __init__(self, jobs_db: JobsDB, from_env: Collection[int], refresh_s: float = 5.0) -> None:
        self._store = AdminStore(jobs_db)
        self._from_env = frozenset(from_env)
        self._refresh_s = refresh_s
        self._current = self._from_env
        self._read_at = float("-inf")

    async def current(self) -> frozenset[int]:
        now = time.monotonic()
        if now - self._read_at >= self._refresh_s:
            self._read_at = now
            with suppress(psycopg.Error, OSError):
                self._current = self._from_env | await self._store.skipped_config_ids()
        return self._current
