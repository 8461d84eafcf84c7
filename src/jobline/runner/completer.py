"""Writes the outcomes of finished jobs in batches: one statement per kind per flush.

A flush that fails for the database's sake (connection, timeout) keeps its outcomes and is
tried again with backoff: a finished job stays locked by this runner until its outcome is
written, so it is never run twice meanwhile. A flush that fails for one job's sake (a data
error) is split: each outcome is written alone, and the one the database refuses is set
aside (logged, counted, its job handed back for a later run), never holding up the
others.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import psycopg

from jobline.dburl import error_text
from jobline.logs import get_logger
from jobline.metrics import RUNNER_LOCK_LOST, RUNNER_OUTCOMES_SET_ASIDE
from jobline.retry import Backoff
from jobline.runner.outcome import Outcome, Result, clean_error
from jobline.store import FailedAttempt, Postponement
from jobline.store.ports import RunnerStore

log = get_logger("jobline.runner.completer")

#: How long a job whose outcome the database refused waits before it runs again.
SET_ASIDE_DELAY = timedelta(minutes=1)

# SQLSTATE classes that blame the data, not the database: data exception, integrity
# constraint violation, program limit exceeded.
_DATA_ERROR_CLASSES = frozenset({"22", "23", "54"})


def is_data_error(exc: BaseException) -> bool:
    """Does the error blame what was written (not the database being unavailable)?"""
    if isinstance(exc, psycopg.DataError | psycopg.IntegrityError):
        return True  # including psycopg's own refusals before sending (a NUL in text)
    sqlstate = exc.sqlstate if isinstance(exc, psycopg.Error) else None
    return sqlstate is not None and sqlstate[:2] in _DATA_ERROR_CLASSES


class Completer:
    """Collects outcomes and flushes them every `interval_s` or every `max_batch` outcomes."""

    def __init__(
        self,
        jobs_db: RunnerStore,
        runner_id: str,
        *,
        interval_s: float = 0.02,
        max_batch: int = 1000,
        on_unreleased: Callable[[], None] = lambda: None,
    ) -> None:
        self._db = jobs_db
        self._runner_id = runner_id
        self._interval_s = interval_s
        self._max_batch = max_batch
        self._on_unreleased = on_unreleased  # a job set aside could not even be released
        self._pending: list[Outcome] = []
        self._writing: list[Outcome] = []
        self._full = asyncio.Event()
        self.healthy = True
        self.last_error: str | None = None

    def add(self, outcome: Outcome) -> None:
        self._pending.append(outcome)
        if len(self._pending) >= self._max_batch:
            self._full.set()

    def held_ids(self) -> set[int]:
        """Jobs whose outcome is not written yet: still locked by this runner, knowingly."""
        return {o.job_id for o in self._pending} | {o.job_id for o in self._writing}

    @property
    def pending(self) -> int:
        return len(self._pending) + len(self._writing)

    async def run(self, stopping: asyncio.Event) -> None:
        backoff = Backoff(0.1, 5.0)
        while not (stopping.is_set() and not self._pending):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._full.wait(), timeout=self._interval_s)
            self._full.clear()
            try:
                await self.flush()
                backoff.reset()
            except Exception as exc:
                self.healthy = False
                self.last_error = error_text(exc, self._db.url)
                delay = backoff.next()
                log.warning(
                    "runner.completion_failed",
                    error=self.last_error,
                    pending=self.pending,
                    retry_in_s=round(delay, 2),
                )
                await asyncio.sleep(delay)

    async def flush(self) -> None:
        if not self._pending:
            return
        self._writing, self._pending = self._pending, []
        try:
            try:
                await self._write(self._writing)
            except psycopg.Error as exc:
                if not is_data_error(exc):
                    raise
                await self._write_one_by_one(self._writing)
        except BaseException:
            self._pending[:0] = self._writing
            raise
        finally:
            self._writing = []
        self.healthy = True
        self.last_error = None

    async def _write_one_by_one(self, batch: list[Outcome]) -> None:
        for i, outcome in enumerate(batch):
            try:
                await self._write([outcome])
            except psycopg.Error as exc:
                if not is_data_error(exc):
                    del batch[:i]  # written already; the caller keeps the rest
                    raise
                await self._set_aside(outcome, exc)

    async def _set_aside(self, outcome: Outcome, exc: BaseException) -> None:
        RUNNER_OUTCOMES_SET_ASIDE.inc()
        log.error(
            "runner.outcome_set_aside",
            job_id=outcome.job_id,
            result=outcome.result.value,
            error=error_text(exc, self._db.url),
        )
        # Handed back, due again a little later: not at once, or a job whose outcome can
        # never be written would run in a tight loop.
        later = Postponement(outcome.job_id, datetime.now(UTC) + SET_ASIDE_DELAY, False)
        try:
            await self._db.postpone(self._runner_id, [later])
        except Exception:
            self._on_unreleased()  # the runner's next orphan sweep releases it

    async def _write(self, batch: list[Outcome]) -> None:
        by_result: dict[Result, list[Outcome]] = {}
        for o in batch:
            by_result.setdefault(o.result, []).append(o)
        for result, outcomes in by_result.items():
            touched = await self._write_kind(result, outcomes)
            # Written: if a later kind fails, only the rest is tried again.
            batch[:] = [o for o in batch if o.result is not result]
            lost = [o.job_id for o in outcomes if o.job_id not in touched]
            if lost:
                RUNNER_LOCK_LOST.labels(result.value).inc(len(lost))
                log.warning(
                    "runner.lock_lost",
                    result=result.value,
                    jobs=len(lost),
                    job_ids=lost[:20],
                    detail="these jobs were no longer locked by this runner (rescued by a "
                    "peer after a stale heartbeat?); their outcome was not written",
                )

    async def _write_kind(self, result: Result, outcomes: list[Outcome]) -> set[int]:
        ids = [o.job_id for o in outcomes]
        if result is Result.SUCCESS:
            return await self._db.complete_held(self._runner_id, ids)
        if result in (Result.RETRY, Result.FAILED):
            failures = [
                FailedAttempt(o.job_id, clean_error(o.error or ""), o.retry_at) for o in outcomes
            ]
            return await self._db.record_failures(self._runner_id, failures)
        if result is Result.POSTPONED:
            later = [
                Postponement(o.job_id, o.retry_at, o.unrunnable)
                for o in outcomes
                if o.retry_at is not None
            ]
            return await self._db.postpone(self._runner_id, later)
        return await self._db.release_held(self._runner_id, ids)
