"""The scheduler's ticks in the jobs DB: claim a tick, mark it fired (SQL in sql/ticks.sql)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from jobline.sqlfiles import load_queries
from jobline.store.jobs_db import JobsDB

Q = load_queries("jobline.store.sql", "ticks.sql")


@dataclass(frozen=True, slots=True)
class TickClaim:
    """Which tick of which task a scheduler asks for."""

    task: str
    tick_at: datetime
    scheduler_id: str


class TickStore:
    def __init__(self, jobs_db: JobsDB, *, reclaim_after_s: float = 30.0) -> None:
        self._db = jobs_db
        self._reclaim_after_s = reclaim_after_s

    async def claim(self, claim: TickClaim) -> bool:
        """True when this scheduler owns the tick now (and must fire it)."""
        async with self._db.pool.connection() as conn:
            cur = await conn.execute(
                Q["claim_tick"],
                {
                    "task": claim.task,
                    "tick_at": claim.tick_at,
                    "scheduler_id": claim.scheduler_id,
                    "reclaim_after_s": self._reclaim_after_s,
                },
            )
            return await cur.fetchone() is not None

    async def previous_tick(self, task: str, tick_at: datetime) -> datetime | None:
        async with self._db.pool.connection() as conn:
            cur = await conn.execute(Q["previous_tick"], {"task": task, "tick_at": tick_at})
            row = await cur.fetchone()
        value = row[0] if row else None
        return value if isinstance(value, datetime) else None

    async def mark_fired(self, claim: TickClaim, jobs: int) -> None:
        async with self._db.pool.connection() as conn:
            await conn.execute(
                Q["mark_fired"],
                {
                    "task": claim.task,
                    "tick_at": claim.tick_at,
                    "scheduler_id": claim.scheduler_id,
                    "jobs": jobs,
                },
            )
            await conn.execute(Q["prune_ticks"], {"task": claim.task})
