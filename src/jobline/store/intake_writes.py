"""The intake's writes: jobs (job keys applied) and, for a Kafka batch, its offsets.

A batch's jobs and its next offsets are stored in ONE transaction: that is the intake's
exactly-once. Direct triggers (producer/direct.py) use insert_jobs. SQL in sql/queries.sql.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg.rows import TupleRow

from jobline.job import JobMessage, KeyMode
from jobline.job.keys import fold_keyed, key_scope
from jobline.store.connection import JobsDBConnection, Q
from jobline.store.params import IntakeBatchWrite, split_replayed
from jobline.store.refusals import Refusals, write_splitting
from jobline.store.rows import IntakeBatchResult

Conn = psycopg.AsyncConnection[TupleRow]

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


def _offset_params(batch: IntakeBatchWrite) -> dict[str, Any]:
    return {
        "group": batch.group,
        "topic": batch.topic,
        "partitions": [r.partition for r in batch.ranges],
    }


class IntakeWrites(JobsDBConnection):
    async def insert_jobs(self, jobs: Sequence[JobMessage]) -> int:
        """Insert jobs and wake the runners, in one transaction (direct intake)."""
        if not jobs:
            return 0
        async with self._pool.connection() as conn, conn.transaction():
            await self._write_jobs(conn, jobs)
            await self._notify(conn, jobs)
        return len(jobs)

    async def _write_jobs(self, conn: Conn, jobs: Sequence[JobMessage]) -> None:
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

    async def _notify(self, conn: Conn, jobs: Sequence[JobMessage]) -> None:
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

    async def persist_intake_batch(self, batch: IntakeBatchWrite) -> IntakeBatchResult:
        """Write a batch's jobs and its next offsets in ONE transaction.

        Messages below the offset already stored for their partition were persisted before
        (a replay after a crash or a rebalance) and are skipped, so a job is never stored
        twice. Jobs the jobs DB refuses are found by splitting the batch and handed to
        `batch.dead_letter` before the commit: if it raises, nothing is committed.
        """
        async with self._pool.connection() as conn, conn.transaction():
            ms = str(max(1, int(batch.statement_timeout_s * 1000)))
            await conn.execute(Q["set_statement_timeout"], {"ms": ms})
            cur = await conn.execute(Q["lock_offsets"], _offset_params(batch))
            stored = {int(r[0]): int(r[1]) for r in await cur.fetchall()}
            fresh, duplicates = split_replayed(batch.entries, stored)
            found = Refusals()
            if fresh:
                await write_splitting(conn, fresh, self._write_jobs, found)
            if found.refused:
                await batch.dead_letter(found.refused)
            refused = found.offsets()
            written = [e.job for e in fresh if (e.partition, e.offset) not in refused]
            if written:
                await self._notify(conn, written)
            offsets = [r.next_offset for r in batch.ranges]
            await conn.execute(Q["save_offsets"], {**_offset_params(batch), "offsets": offsets})
        return IntakeBatchResult(len(written), duplicates, tuple(found.refused), found.splits)
