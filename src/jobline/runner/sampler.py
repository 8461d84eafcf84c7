"""SamplerService: queue depth, oldest due job and live runners, as gauges, every few seconds."""

from __future__ import annotations

from jobline.dburl import error_text
from jobline.logs import get_logger
from jobline.metrics import QUEUE_JOBS, QUEUE_OLDEST_DUE_AGE, RUNNERS_LIVE
from jobline.service import Service, ServiceStatus
from jobline.store import JobsDB

log = get_logger("jobline.sampler")


class SamplerService(Service):
    """Reads the jobs DB's state for /metrics. A failed sample is logged, never fatal."""

    name = "sampler"

    def __init__(self, jobs_db: JobsDB, *, interval_s: float, dead_after_s: float) -> None:
        super().__init__()
        self._db = jobs_db
        self._interval_s = interval_s
        self._dead_after_s = dead_after_s
        self._last_error: str | None = None

    async def _main(self) -> None:
        while not self.stopping:
            try:
                counts = await self._db.queue_counts(self._dead_after_s)
            except Exception as exc:
                self._last_error = error_text(exc, self._db.url)
                log.warning("sampler.failed", error=self._last_error)
            else:
                self._last_error = None
                for state in ("due", "scheduled", "running", "failed"):
                    QUEUE_JOBS.labels(state).set(getattr(counts, state))
                QUEUE_OLDEST_DUE_AGE.set(counts.oldest_due_age_s)
                RUNNERS_LIVE.set(counts.live_runners)
            await self.sleep_unless_stopping(self._interval_s)

    def status(self) -> ServiceStatus:
        # Metrics only: a failing sample never makes the process unready.
        return ServiceStatus(True, self._last_error or "sampling")
