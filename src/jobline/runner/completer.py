"""Writes the outcomes of finished jobs in batches: one statement per kind per flush."""

from __future__ import annotations

import asyncio
import contextlib

from jobline.logs import get_logger
from jobline.runner.outcome import Outcome, Result
from jobline.store import FailedAttempt, JobsDB

log = get_logger("jobline.runner.completer")


class Completer:
    """Collects outcomes and flushes them every `interval_s` or every `max_batch` outcomes.

    A flush that fails keeps its outcomes and is tried again: a finished job stays locked
    by this runner until its deletion is written, so it is never run twice meanwhile.
    """

    def __init__(
        self,
        jobs_db: JobsDB,
        runner_id: str,
        *,
        interval_s: float = 0.02,
        max_batch: int = 1000,
        postpone_s: float = 60.0,
    ) -> None:
        self._db = jobs_db
        self._runner_id = runner_id
        self._interval_s = interval_s
        self._max_batch = max_batch
        self._postpone_s = postpone_s
        self._pending: list[Outcome] = []
        self._full = asyncio.Event()
        self.healthy = True

    def add(self, outcome: Outcome) -> None:
        self._pending.append(outcome)
        if len(self._pending) >= self._max_batch:
            self._full.set()

    async def run(self, stopping: asyncio.Event) -> None:
        delay = 0.1
        while not (stopping.is_set() and not self._pending):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._full.wait(), timeout=self._interval_s)
            self._full.clear()
            try:
                await self.flush()
                delay = 0.1
            except Exception as exc:
                self.healthy = False
                log.warning(
                    "runner.completion_failed",
                    error=str(exc).strip(),
                    pending=len(self._pending),
                    retry_in_s=delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def flush(self) -> None:
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        try:
            await self._write(batch)
        except BaseException:
            self._pending[:0] = batch
            raise
        self.healthy = True

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def _write(self, batch: list[Outcome]) -> None:
        done = [o.job_id for o in batch if o.result is Result.SUCCESS]
        failures = [
            FailedAttempt(o.job_id, o.error or "", o.retry_at)
            for o in batch
            if o.result in (Result.RETRY, Result.FAILED)
        ]
        postponed = [o.job_id for o in batch if o.result is Result.SKIPPED]
        released = [o.job_id for o in batch if o.result is Result.RELEASED]
        if done:
            await self._db.complete(self._runner_id, done)
        if failures:
            await self._db.record_failures(self._runner_id, failures)
        if postponed:
            await self._db.postpone(self._runner_id, postponed, self._postpone_s)
        if released:
            await self._db.release(self._runner_id, released)
