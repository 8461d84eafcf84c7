"""HeartbeatService: this runner's heartbeat row, and the rescue of dead runners' jobs."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Sequence

from jobline.logs import get_logger
from jobline.metrics import JOBS_RESCUED
from jobline.service import Service, ServiceStatus
from jobline.store import JobsDB
from jobline.store.admin import AdminStore

log = get_logger("jobline.runner.heartbeat")


class HeartbeatService(Service):
    """Beats every `interval_s`; every few beats, rescues jobs of runners silent for
    longer than `dead_after_s` (their jobs become due again, the attempt counts)."""

    name = "heartbeat"

    def __init__(
        self,
        jobs_db: JobsDB,
        runner_id: str,
        capabilities: Sequence[str],
        *,
        interval_s: float,
        dead_after_s: float,
        default_max_attempts: int,
    ) -> None:
        super().__init__()
        self._db = jobs_db
        self.runner_id = runner_id
        self._capabilities = list(capabilities)
        self._interval_s = interval_s
        self._dead_after_s = dead_after_s
        self._default_max_attempts = default_max_attempts
        self._last_beat = 0.0
        self._last_error: str | None = None
        #: set by `jobline runners drain`: the runner stops fetching (read with each beat)
        self.draining = False

    @property
    def beat_age_s(self) -> float:
        return time.monotonic() - self._last_beat

    async def _beat(self) -> None:
        await self._db.heartbeat(
            self.runner_id, socket.gethostname(), os.getpid(), self._capabilities
        )
        self._last_beat = time.monotonic()
        if not self.draining and await AdminStore(self._db).drain_requested(self.runner_id):
            self.draining = True
            log.warning("runner.draining", runner_id=self.runner_id, reason="jobline runners drain")

    async def _open(self) -> None:
        # The row must exist before this runner locks any job, or a peer could rescue them.
        await self._beat()
        log.info("runner.registered", runner_id=self.runner_id)

    async def _main(self) -> None:
        next_rescue = 0.0
        while not self.stopping:
            try:
                await self._beat()
                if time.monotonic() >= next_rescue:
                    await self._rescue()
                    next_rescue = time.monotonic() + max(self._interval_s, self._dead_after_s / 3)
                self._last_error = None
            except Exception as exc:
                self._last_error = str(exc).strip()
                log.warning(
                    "runner.heartbeat_failed",
                    error=self._last_error,
                    beat_age_s=round(self.beat_age_s, 1),
                )
            await self.sleep_unless_stopping(self._interval_s)

    async def _rescue(self) -> None:
        rescued = await self._db.rescue_dead_runners(self._dead_after_s, self._default_max_attempts)
        if rescued:
            JOBS_RESCUED.inc(len(rescued))
            log.warning(
                "runner.rescued",
                jobs=len(rescued),
                job_ids=[r.id for r in rescued[:20]],
                dead_after_s=self._dead_after_s,
            )

    async def _close(self, grace_s: float) -> None:
        try:
            await self._db.remove_runner(self.runner_id)
        except Exception as exc:
            log.warning("runner.unregister_failed", error=str(exc).strip())

    def status(self) -> ServiceStatus:
        age = self.beat_age_s
        if age > self._dead_after_s / 2:
            return ServiceStatus(False, f"last heartbeat {age:.0f} s ago: {self._last_error}")
        return ServiceStatus(True, f"last heartbeat {age:.1f} s ago")
