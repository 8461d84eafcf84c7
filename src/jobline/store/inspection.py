"""What the jobs DB holds, for readiness, metrics and tools: counts and the fetch's plan."""

from __future__ import annotations

from jobline.store.connection import JobsDBConnection, Q
from jobline.store.rows import QueueCounts


class Inspection(JobsDBConnection):
    async def queue_counts(self, dead_after_s: float = 30.0) -> QueueCounts:
        rows = await self._fetchall("queue_counts", {"dead_after_s": dead_after_s})
        due, scheduled, running, failed, oldest, live = rows[0]
        return QueueCounts(
            int(due), int(scheduled), int(running), int(failed), float(oldest), int(live)
        )

    async def explain_fetch(self, limit: int = 100) -> str:
        """The fetch's plan as the runners get it (without running it), under the fetch's
        own planner settings however they are set (JOBLINE_DB_SCHEMA_FROM)."""
        async with self.fetch_connection() as conn:
            cur = await conn.execute(
                b"EXPLAIN " + Q["fetch_due"].encode(), {"runner_id": "explain", "limit": limit}
            )
            return "\n".join(str(r[0]) for r in await cur.fetchall())
