"""What the runner and the intake need from the jobs DB, as protocols.

JobsDB (PostgreSQL) and MemoryStore (memory.py, for tests) both satisfy them, and
tests/conformance runs the same cases against both, so a unit test of the runner's or the
intake's logic over MemoryStore says something about production. Code that needs only
these operations should ask for the protocol, not for JobsDB.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from jobline.job import JobMessage
from jobline.store.params import IntakeBatchWrite, RescueParams, RunnerBeat
from jobline.store.rows import (
    FailedAttempt,
    FetchedJob,
    IntakeBatchResult,
    Postponement,
    RescuedJob,
)


class RunnerStore(Protocol):
    """The runner's operations: fetch, outcomes, heartbeat, rescue.

    Every outcome write touches only jobs still locked by `runner_id` and returns the ids
    it touched: a job missing from them had lost its lock (rescued meanwhile).
    """

    @property
    def url(self) -> str: ...  # for error messages (error_text hides its password)

    @property
    def call_timeout_s(self) -> float: ...

    async def fetch_due(self, runner_id: str, limit: int) -> list[FetchedJob]:
        """Lock and return up to `limit` due jobs (run_at <= now, unlocked; a named queue's
        head only, while none of its jobs runs), by priority, run_at, id."""
        ...

    async def next_run_at(self) -> datetime | None:
        """The earliest run_at still to come of the unlocked jobs (None: none is to come).
        Due jobs are left out: the fetch has just passed them by (a peer holds them, or they
        wait behind a running queue head), and they must not hide the next future one."""
        ...

    async def complete(self, runner_id: str, ids: Sequence[int]) -> int: ...

    async def complete_held(self, runner_id: str, ids: Sequence[int]) -> set[int]: ...

    async def record_failures(
        self, runner_id: str, failures: Sequence[FailedAttempt]
    ) -> set[int]: ...

    async def release(self, runner_id: str, ids: Sequence[int]) -> int: ...

    async def release_held(self, runner_id: str, ids: Sequence[int]) -> set[int]: ...

    async def release_orphans(self, runner_id: str, held: Sequence[int]) -> set[int]: ...

    async def postpone(self, runner_id: str, jobs: Sequence[Postponement]) -> set[int]: ...

    async def heartbeat(self, beat: RunnerBeat) -> None: ...

    async def remove_runner(self, runner_id: str) -> None: ...

    async def drain_requested(self, runner_id: str) -> bool:
        """Has an operator asked this runner to stop taking jobs (`jobline runners drain`)?"""
        ...

    async def rescue_dead_runners(self, params: RescueParams) -> list[RescuedJob]: ...


class IntakeStore(Protocol):
    """The intake's writes: jobs, and a Kafka batch's jobs with its offsets (exactly once)."""

    async def insert_jobs(self, jobs: Sequence[JobMessage]) -> int: ...

    async def ensure_offsets(self, group: str, topic: str, partitions: Sequence[int]) -> None:
        """A stored offset of -1 ("nothing persisted yet") for each partition without one."""
        ...

    async def load_offsets(
        self, group: str, topic: str, partitions: Sequence[int]
    ) -> dict[int, int]: ...

    async def persist_intake_batch(self, batch: IntakeBatchWrite) -> IntakeBatchResult:
        """The batch's jobs and next offsets at once; entries below a stored offset are
        replays, counted as duplicates and not stored again."""
        ...
