"""MemoryStore: the runner's and the intake's store (ports.py) in memory, for tests.

It keeps the jobs DB's rules, checked by tests/conformance against PostgreSQL: a job is due
when its run_at has come and no runner holds it; fetches go by priority, run_at, id; a
named queue runs one job at a time, in id order; job keys `replace` or `preserve` the
queued job (a running job gives its key up); outcome writes touch only jobs the runner
still holds; dead runners' jobs are rescued; an intake batch's offsets make it
exactly-once. Not modelled: values PostgreSQL refuses (the fake stores any job), paused
plugin configs, LISTEN/NOTIFY, and concurrency (one event loop, no awaits inside a call).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from jobline.job import JobMessage, KeyMode
from jobline.job.keys import fold_keyed, key_scope
from jobline.store.params import IntakeBatchWrite, RescueParams, RunnerBeat, split_replayed
from jobline.store.rows import (
    FailedAttempt,
    FetchedJob,
    IntakeBatchResult,
    Postponement,
    RescuedJob,
)

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class StoredJob:
    """A row of the fake's jobs (or failed jobs) table."""

    id: int
    job: JobMessage
    payload: Any  # as the jobs DB gives it back: the JSON of the trigger's payload
    run_at: datetime
    attempts: int = 0
    locked_by: str | None = None
    locked_at: datetime | None = None
    unrunnable_since: datetime | None = None
    last_error: str | None = None
    key: str | None = None

    def fetched(self) -> FetchedJob:
        j = self.job
        return FetchedJob(
            self.id, j.type, j.plugin_config_id, j.team_id, self.payload, self.run_at,
            self.attempts, j.max_attempts, j.queue, j.priority, self.unrunnable_since,
        )  # fmt: skip


@dataclass
class RunnerRow:
    beat: RunnerBeat
    heartbeat_at: datetime
    drain_requested: bool = False  # set by a test, as `jobline runners drain` would


class MemoryStore:
    """Satisfies ports.RunnerStore and ports.IntakeStore; `clock` gives "now"."""

    url = "memory://jobline"
    call_timeout_s = 1.0

    def __init__(self, clock: Clock = _utc_now) -> None:
        self.clock = clock
        self.jobs: dict[int, StoredJob] = {}
        self.failed: dict[int, StoredJob] = {}
        self.runners: dict[str, RunnerRow] = {}
        self.offsets: dict[tuple[str, str, int], int] = {}
        self._ids = itertools.count(1)

    # --- intake ------------------------------------------------------------------------

    async def insert_jobs(self, jobs: Sequence[JobMessage]) -> int:
        self._write_jobs(jobs)
        return len(jobs)

    def _write_jobs(self, jobs: Sequence[JobMessage]) -> None:
        for job in fold_keyed(jobs):
            queued = self._queued_with_key(job)
            if queued is None:
                new = StoredJob(next(self._ids), job, _as_stored(job.payload), job.run_at)
                self.jobs[new.id] = replace(new, key=job.key)
            elif job.key_mode is KeyMode.REPLACE:
                # A new trigger, the same row: attempts and last error start again.
                payload = _as_stored(job.payload)
                self.jobs[queued.id] = StoredJob(
                    queued.id,
                    job,
                    payload,
                    job.run_at,
                    unrunnable_since=queued.unrunnable_since,
                    key=job.key,
                )

    def _queued_with_key(self, job: JobMessage) -> StoredJob | None:
        """The unlocked job with `job`'s key; running ones give their key up first."""
        scope = key_scope(job)
        if scope is None:
            return None
        found = None
        for row in self.jobs.values():
            if row.key is not None and (row.job.plugin_config_id, row.key) == scope:
                if row.locked_by is not None:
                    row.key = None
                else:
                    found = row
        return found

    async def ensure_offsets(self, group: str, topic: str, partitions: Sequence[int]) -> None:
        for p in partitions:
            self.offsets.setdefault((group, topic, p), -1)

    async def load_offsets(
        self, group: str, topic: str, partitions: Sequence[int]
    ) -> dict[int, int]:
        found = {p: self.offsets.get((group, topic, p)) for p in partitions}
        return {p: o for p, o in found.items() if o is not None}

    async def persist_intake_batch(self, batch: IntakeBatchWrite) -> IntakeBatchResult:
        partitions = [r.partition for r in batch.ranges]
        stored = await self.load_offsets(batch.group, batch.topic, partitions)
        fresh, duplicates = split_replayed(batch.entries, stored)
        self._write_jobs([e.job for e in fresh])
        for r in batch.ranges:
            where = (batch.group, batch.topic, r.partition)
            self.offsets[where] = max(self.offsets.get(where, -1), r.next_offset)
        return IntakeBatchResult(len(fresh), duplicates)

    # --- runner: fetch -----------------------------------------------------------------

    async def fetch_due(self, runner_id: str, limit: int) -> list[FetchedJob]:
        now = self.clock()
        due = sorted(
            (row for row in self.jobs.values() if self._is_due(row, now)),
            key=lambda r: (r.job.priority, r.run_at, r.id),
        )[:limit]
        for row in due:
            row.locked_by, row.locked_at = runner_id, now
        return [row.fetched() for row in due]

    def _is_due(self, row: StoredJob, now: datetime) -> bool:
        if row.locked_by is not None or row.run_at > now:
            return False
        queue = row.job.queue
        if queue is None:
            return True
        return not any(
            q.job.queue == queue and (q.id < row.id or q.locked_by is not None)
            for q in self.jobs.values()
        )

    async def next_run_at(self) -> datetime | None:
        now = self.clock()
        later = (r.run_at for r in self.jobs.values() if r.locked_by is None and r.run_at > now)
        return min(later, default=None)

    # --- runner: outcomes --------------------------------------------------------------

    def _held(self, runner_id: str, ids: Iterable[int]) -> list[StoredJob]:
        rows = (self.jobs.get(i) for i in set(ids))
        return [r for r in rows if r is not None and r.locked_by == runner_id]

    async def complete(self, runner_id: str, ids: Sequence[int]) -> int:
        return len(await self.complete_held(runner_id, ids))

    async def complete_held(self, runner_id: str, ids: Sequence[int]) -> set[int]:
        held = self._held(runner_id, ids)
        for row in held:
            del self.jobs[row.id]
        return {r.id for r in held}

    async def record_failures(self, runner_id: str, failures: Sequence[FailedAttempt]) -> set[int]:
        touched: set[int] = set()
        for failure in failures:
            for row in self._held(runner_id, [failure.job_id]):
                row.attempts += 1
                row.last_error = failure.error
                touched.add(row.id)
                if failure.retry_at is None:
                    self._move_to_failed(row)
                else:
                    row.run_at = failure.retry_at
                    _unlock(row)
        return touched

    def _move_to_failed(self, row: StoredJob) -> None:
        del self.jobs[row.id]
        self.failed[row.id] = row
        _unlock(row)

    async def release(self, runner_id: str, ids: Sequence[int]) -> int:
        return len(await self.release_held(runner_id, ids))

    async def release_held(self, runner_id: str, ids: Sequence[int]) -> set[int]:
        held = self._held(runner_id, ids)
        for row in held:
            _unlock(row)
        return {r.id for r in held}

    async def release_orphans(self, runner_id: str, held: Sequence[int]) -> set[int]:
        known = set(held)
        orphans = [r.id for r in self.jobs.values() if r.id not in known]
        return await self.release_held(runner_id, orphans)

    async def postpone(self, runner_id: str, jobs: Sequence[Postponement]) -> set[int]:
        touched: set[int] = set()
        for later in jobs:
            for row in self._held(runner_id, [later.job_id]):
                row.run_at = later.run_at
                since = row.unrunnable_since or self.clock()
                row.unrunnable_since = since if later.unrunnable else None
                _unlock(row)
                touched.add(row.id)
        return touched

    # --- runner: heartbeat and rescue --------------------------------------------------

    async def heartbeat(self, beat: RunnerBeat) -> None:
        row = self.runners.get(beat.runner_id)
        if row is None:
            self.runners[beat.runner_id] = RunnerRow(beat, self.clock())
        else:
            row.heartbeat_at = self.clock()

    async def remove_runner(self, runner_id: str) -> None:
        self.runners.pop(runner_id, None)

    async def drain_requested(self, runner_id: str) -> bool:
        row = self.runners.get(runner_id)
        return row is not None and row.drain_requested

    async def rescue_dead_runners(self, params: RescueParams) -> list[RescuedJob]:
        """Unlock the jobs of runners that stopped heartbeating (the attempt counts); jobs
        locked by a runner id with no row are rescued once their lock is as old."""
        before = self.clock() - timedelta(seconds=params.dead_after_s)
        dead = {rid for rid, r in self.runners.items() if r.heartbeat_at < before}
        for rid in dead:
            del self.runners[rid]
        rescued: list[RescuedJob] = []
        for row in list(self.jobs.values()):
            if row.locked_by is None or not self._lock_is_dead(row, dead, before):
                continue
            row.attempts += 1
            row.last_error = f"runner {row.locked_by} stopped heartbeating while running this job"
            _unlock(row)
            limit = row.job.max_attempts or params.max_attempts_of(row.job.type)
            rescued.append(RescuedJob(row.id, row.job.type, row.attempts, row.job.max_attempts))
            if row.attempts >= limit:
                self._move_to_failed(row)
        return rescued

    def _lock_is_dead(self, row: StoredJob, dead: set[str], before: datetime) -> bool:
        if row.locked_by in dead:
            return True
        orphaned = row.locked_by not in self.runners
        return orphaned and row.locked_at is not None and row.locked_at < before


def _unlock(row: StoredJob) -> None:
    row.locked_by, row.locked_at = None, None


def _as_stored(payload: Any) -> Any:
    # The jobs DB keeps the payload as jsonb: what comes back is its JSON, not the object.
    return json.loads(json.dumps(payload))
