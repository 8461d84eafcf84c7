"""Direct intake: triggers written straight into the jobs DB (small installs, tests)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

from jobline.dburl import DbLimits
from jobline.errors import IntakeUnavailable, JobsDBUnavailable
from jobline.job import JobMessage
from jobline.metrics import JOBS_REFUSED, JOBS_TRIGGERED
from jobline.producer.base import encode_all
from jobline.store import JobsDB

T = TypeVar("T")


class DirectJobProducer:
    """Owns a small event loop thread so that sync and async callers share one pool."""

    def __init__(
        self,
        jobs_db_url: str,
        schema: str,
        max_message_bytes: int,
        timeout_s: float,
        limits: DbLimits | None = None,
    ) -> None:
        self._max_bytes = max_message_bytes
        self._timeout_s = timeout_s
        self._db = JobsDB(jobs_db_url, schema, min_size=1, max_size=4, limits=limits)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="direct-producer", daemon=True
        )
        self._thread.start()
        self._opened = False

    def _call(self, coro: Coroutine[Any, Any, T]) -> asyncio.Future[T]:
        return asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self._loop))

    async def _insert(self, jobs: Sequence[JobMessage]) -> None:
        if not self._opened:
            await self._db.open(self._timeout_s)
            self._opened = True
        await self._db.insert_jobs(jobs)

    def _unavailable(self, exc: BaseException) -> IntakeUnavailable:
        JOBS_REFUSED.labels("intake_unavailable").inc()
        cause = (
            str(exc)
            # JobsDB.open names the database and its URL: keep that message as it is.
            if isinstance(exc, (IntakeUnavailable, JobsDBUnavailable))
            else (
                f"the jobs DB did not accept the job(s) within {self._timeout_s:g} s: {exc}; "
                "check JOBLINE_JOBS_DATABASE_URL and that PostgreSQL is up"
            )
        )
        return IntakeUnavailable(
            f"{cause}. The job was not queued: trigger it again once the jobs DB answers"
        )

    def send(self, jobs: Sequence[JobMessage]) -> None:
        if not jobs:
            return
        encode_all(jobs, self._max_bytes)  # the same limit as on Kafka
        future = asyncio.run_coroutine_threadsafe(self._insert(jobs), self._loop)
        try:
            future.result(self._timeout_s + 5)
        except Exception as exc:
            raise self._unavailable(exc) from exc
        JOBS_TRIGGERED.labels("direct").inc(len(jobs))

    async def send_async(self, jobs: Sequence[JobMessage]) -> None:
        if not jobs:
            return
        encode_all(jobs, self._max_bytes)  # the same limit as on Kafka
        try:
            await asyncio.wait_for(self._call(self._insert(jobs)), self._timeout_s + 5)
        except Exception as exc:
            raise self._unavailable(exc) from exc
        JOBS_TRIGGERED.labels("direct").inc(len(jobs))

    def close(self) -> None:
        if self._opened:
            asyncio.run_coroutine_threadsafe(self._db.close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
