"""The runner's statements on the jobs DB: fetch, outcomes, heartbeat, rescue.

Part of JobsDB, over the connection layer (connection.py); SQL in sql/queries.sql. Every
call runs under the connection's server-side timeouts and the deadline `call_timeout_s`.
Outcome writes return the ids they touched: a job missing from them had lost its lock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from psycopg.rows import TupleRow

from jobline.store.connection import JobsDBConnection, Q
from jobline.store.params import RescueParams, RunnerBeat
from jobline.store.rows import FailedAttempt, FetchedJob, Postponement, RescuedJob


def _ids(rows: list[TupleRow]) -> set[int]:
    return {int(r[0]) for r in rows}


class RunnerOps(JobsDBConnection):
    async def fetch_due(self, runner_id: str, limit: int) -> list[FetchedJob]:
        params = {"runner_id": runner_id, "limit": limit}
        async with asyncio.timeout(self.call_timeout_s), self.fetch_connection() as conn:
            cur = await conn.execute(Q["fetch_due"], params)
            rows = await cur.fetchall()
            jobs = [FetchedJob(*r) for r in rows]
        jobs.sort(key=lambda j: (j.priority, j.run_at, j.id))
        return jobs

    async def next_run_at(self) -> datetime | None:
        rows = await self._rows("next_run_at", {})
        value = rows[0][0] if rows else None
        return value if isinstance(value, datetime) else None

    async def complete(self, runner_id: str, ids: Sequence[int]) -> int:
        return len(await self.complete_held(runner_id, ids))

    async def complete_held(self, runner_id: str, ids: Sequence[int]) -> set[int]:
        """Delete finished jobs; the ids this runner still held."""
        return _ids(await self._rows("complete", {"runner_id": runner_id, "ids": list(ids)}))

    async def record_failures(self, runner_id: str, failures: Sequence[FailedAttempt]) -> set[int]:
        """Write a batch of failed runs: retries get their backoff, the rest move out."""
        retries = [f for f in failures if f.retry_at is not None]
        finals = [f for f in failures if f.retry_at is None]
        touched: set[int] = set()
        async with (
            asyncio.timeout(self.call_timeout_s),
            self._pool.connection() as conn,
            conn.transaction(),
        ):
            if retries:
                cur = await conn.execute(Q["retry"], _failure_params(runner_id, retries))
                touched |= _ids(await cur.fetchall())
            if finals:
                params = _failure_params(runner_id, finals)
                del params["run_ats"]
                cur = await conn.execute(Q["fail_permanently"], params)
                touched |= _ids(await cur.fetchall())
        return touched

    async def release(self, runner_id: str, ids: Sequence[int]) -> int:
        return len(await self.release_held(runner_id, ids))

    async def release_held(self, runner_id: str, ids: Sequence[int]) -> set[int]:
        return _ids(await self._rows("release", {"runner_id": runner_id, "ids": list(ids)}))

    async def release_orphans(self, runner_id: str, held: Sequence[int]) -> set[int]:
        """Unlock this runner's jobs that are not in `held`; the ids unlocked."""
        return _ids(
            await self._rows("release_orphans", {"runner_id": runner_id, "held": list(held)})
        )

    async def postpone(self, runner_id: str, jobs: Sequence[Postponement]) -> set[int]:
        params = {
            "runner_id": runner_id,
            "ids": [p.job_id for p in jobs],
            "run_ats": [p.run_at for p in jobs],
            "unrunnable": [p.unrunnable for p in jobs],
        }
        return _ids(await self._rows("postpone", params))

    async def heartbeat(self, beat: RunnerBeat) -> None:
        params = {
            "runner_id": beat.runner_id,
            "hostname": beat.hostname,
            "pid": beat.pid,
            "capabilities": list(beat.capabilities),
        }
        # On a connection of its own, made again at the next beat when lost: after a jobs-DB
        # outage a live runner beats again within one interval, while its pools may still
        # wait out psycopg_pool's reconnect backoff (seconds); a peer back first would
        # otherwise take it for dead and rescue jobs it is still running.
        try:
            async with asyncio.timeout(self.call_timeout_s):
                conn = await self._beat_connection()
                await conn.execute(Q["heartbeat"], params)
        except BaseException:
            await self._drop_beat_connection()
            raise

    async def remove_runner(self, runner_id: str) -> None:
        await self._rows("remove_runner", {"runner_id": runner_id})

    async def drain_requested(self, runner_id: str) -> bool:
        """Has `jobline runners drain` asked this runner to stop taking jobs?"""
        rows = await self._rows("drain_requested", {"runner_id": runner_id})
        return bool(rows and rows[0][0])

    async def rescue_dead_runners(self, params: RescueParams) -> list[RescuedJob]:
        """Unlock the jobs of runners that stopped heartbeating; move used-up ones out."""
        async with (
            asyncio.timeout(self.call_timeout_s),
            self._pool.connection() as conn,
            conn.transaction(),
        ):
            args = {"dead_after_s": params.dead_after_s}
            cur = await conn.execute(Q["rescue_dead_runners"], args)
            rescued = [RescuedJob(*r) for r in await cur.fetchall()]
            used_up = [
                r.id
                for r in rescued
                if r.attempts >= (r.max_attempts or params.max_attempts_of(r.type))
            ]
            if used_up:
                await conn.execute(Q["move_to_failed"], {"ids": used_up})
        return rescued


def _failure_params(runner_id: str, failures: Sequence[FailedAttempt]) -> dict[str, Any]:
    return {
        "runner_id": runner_id,
        "ids": [f.job_id for f in failures],
        "errors": [f.error for f in failures],
        "run_ats": [f.retry_at for f in failures],
    }
