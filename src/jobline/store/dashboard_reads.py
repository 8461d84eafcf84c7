"""The dashboard's reads of the jobs DB (sql/dashboard.sql): capped gauges, table activity
counters, the intake's stored offsets, per-config backlog. Read-only; never on a hot path."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.rows import TupleRow

from jobline.sqlfiles import load_queries
from jobline.store.jobs_db import JobsDB

D = load_queries("jobline.store.sql", "dashboard.sql")

#: counts stop here: a gauge reads "100000+" rather than scanning a bigger table
COUNT_CAP = 100_000


@dataclass(frozen=True, slots=True)
class QueueGauges:
    due: int
    scheduled: int
    running: int
    retrying: int
    failed: int
    earliest_run_at: datetime | None
    paused_jobs: int
    at: datetime

    @property
    def oldest_due_age_s(self) -> float:
        """How long the oldest due job has waited (0 when nothing is due)."""
        if self.earliest_run_at is None or self.earliest_run_at > self.at:
            return 0.0
        return (self.at - self.earliest_run_at).total_seconds()


@dataclass(frozen=True, slots=True)
class TableActivity:
    """Cumulative counters: rows inserted into / deleted from jobs, inserted into failed."""

    jobs_inserted: int
    jobs_deleted: int
    failed_inserted: int


@dataclass(frozen=True, slots=True)
class StoredOffset:
    partition: int
    next_offset: int
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ConfigLoad:
    queued: int = 0
    running: int = 0
    oldest_due: datetime | None = None
    failed_last_hour: int = 0
    failed_total: int = 0


class DashboardReads:
    def __init__(self, jobs_db: JobsDB) -> None:
        self.db = jobs_db

    async def _rows(self, name: str, params: Mapping[str, Any]) -> list[TupleRow]:
        async with self.db.connection() as conn:
            cur = await conn.execute(D[name], params)
            return await cur.fetchall()

    async def queue_gauges(self, cap: int = COUNT_CAP) -> QueueGauges:
        row = (await self._rows("queue_gauges", {"cap": cap}))[0]
        due, scheduled, running, retrying, failed, earliest, paused_jobs, at = row
        return QueueGauges(
            int(due), int(scheduled), int(running), int(retrying), int(failed),
            earliest, int(paused_jobs), at,
        )  # fmt: skip

    async def table_activity(self) -> TableActivity:
        found = {r[0]: (int(r[1]), int(r[2])) for r in await self._rows("table_activity", {})}
        jobs = found.get("jobs", (0, 0))
        failed = found.get("failed_jobs", (0, 0))
        return TableActivity(jobs[0], jobs[1], failed[0])

    async def intake_offsets(self, group: str, topic: str) -> list[StoredOffset]:
        rows = await self._rows("intake_offsets", {"group": group, "topic": topic})
        return [StoredOffset(int(r[0]), int(r[1]), r[2]) for r in rows]

    async def config_loads(self) -> dict[int, ConfigLoad]:
        loads: dict[int, dict[str, Any]] = {}
        for r in await self._rows("config_backlog", {}):
            loads[int(r[0])] = {"queued": int(r[1]), "running": int(r[2]), "oldest_due": r[3]}
        for r in await self._rows("config_failures", {}):
            entry = loads.setdefault(int(r[0]), {})
            entry.update(failed_last_hour=int(r[1]), failed_total=int(r[2]))
        return {cid: ConfigLoad(**values) for cid, values in loads.items()}
