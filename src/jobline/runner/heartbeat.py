"""HeartbeatService: this runner's heartbeat row, and the rescue of dead runners' jobs."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Awaitable, Callable, Sequence

from jobline.dburl import error_text
from jobline.logs import get_logger
from jobline.metrics import JOBS_RESCUED
from jobline.retry import Backoff
from jobline.service import Service, ServiceStatus
from jobline.store import RescueParams, RunnerBeat
from jobline.store.ports import RunnerStore

log = get_logger("jobline.runner.heartbeat")


class HeartbeatService(Service):
    """Beats every `interval_s`; every few beats, rescues jobs of runners silent for
    longer than `dead_after_s` (their jobs become due again, the attempt counts; a job
    whose attempts are used up, by its type's retry policy, moves to failed jobs).

    A runner rescues nobody until its own beats have been steady for `dead_after_s`: a
    runner cut off from the database (or frozen) that comes back must not take its
    peers' jobs on the strength of its own stale view; it may be the one that was gone.
    """

    name = "heartbeat"

    def __init__(
        self,
        jobs_db: RunnerStore,
        runner_id: str,
        capabilities: Sequence[str],
        *,
        interval_s: float,
        dead_after_s: float,
        max_attempts_of: Callable[[str], int],
        drain_requested: Callable[[str], Awaitable[bool]] | None = None,
    ) -> None:
        super().__init__()
        self._drain_requested = drain_requested
        self._db = jobs_db
        self.runner_id = runner_id
        self._capabilities = list(capabilities)
        self._interval_s = interval_s
        self._dead_after_s = dead_after_s
        self._max_attempts_of = max_attempts_of
        self._last_beat = 0.0
        self._steady_since: float | None = None
        self._last_error: str | None = None
        #: set by `jobline runners drain`: the runner stops fetching (read with each beat)
        self.draining = False

    @property
    def beat_age_s(self) -> float:
        return time.monotonic() - self._last_beat

    async def _beat(self) -> None:
        beat = RunnerBeat(
            self.runner_id, socket.gethostname(), os.getpid(), tuple(self._capabilities)
        )
        await self._db.heartbeat(beat)
        now = time.monotonic()
        if self._steady_since is None or now - self._last_beat > 2 * self._interval_s:
            self._steady_since = now  # first beat, or after a gap: steady from now on
        self._last_beat = now
        await self._check_drain()

    async def _check_drain(self) -> None:
        # Read with each beat; a failed read is not a failed beat (the beat was written).
        if self.draining or self._drain_requested is None:
            return
        try:
            requested = await self._drain_requested(self.runner_id)
        except Exception as exc:
            log.warning("runner.drain_check_failed", error=str(exc).strip())
            return
        if requested:
            self.draining = True
            log.warning("runner.draining", runner_id=self.runner_id, reason="jobline runners drain")

    @property
    def steady(self) -> bool:
        """Have this runner's beats been regular for the whole dead-after window?"""
        since = self._steady_since
        return since is not None and time.monotonic() - since >= self._dead_after_s

    async def _open(self) -> None:
        # The row must exist before this runner locks any job, or a peer could rescue them.
        await self._beat()
        log.info("runner.registered", runner_id=self.runner_id)

    async def _main(self) -> None:
        next_rescue = 0.0
        backoff = Backoff(min(0.2, self._interval_s), self._interval_s)
        while not self.stopping:
            delay = self._interval_s
            try:
                await self._beat()
                self._last_error = None
                backoff.reset()
            except Exception as exc:
                self._steady_since = None
                self._last_error = error_text(exc, self._db.url)
                delay = backoff.next()
                log.warning(
                    "runner.heartbeat_failed",
                    error=self._last_error,
                    beat_age_s=round(self.beat_age_s, 1),
                    retry_in_s=round(delay, 2),
                )
            else:
                if self.steady and time.monotonic() >= next_rescue:
                    next_rescue = time.monotonic() + max(self._interval_s, self._dead_after_s / 3)
                    await self._rescue()
            await self.sleep_unless_stopping(delay)

    async def _rescue(self) -> None:
        # A failed rescue (a lock timeout behind a long transaction) is not a failed beat:
        # this runner is alive, and tries the rescue again a little later.
        try:
            params = RescueParams(self._dead_after_s, self._max_attempts_of)
            rescued = await self._db.rescue_dead_runners(params)
        except Exception as exc:
            log.warning("runner.rescue_failed", error=error_text(exc, self._db.url))
            return
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
            log.warning("runner.unregister_failed", error=error_text(exc, self._db.url))

    def status(self) -> ServiceStatus:
        age = self.beat_age_s
        if age > self._dead_after_s / 2:
            return ServiceStatus(False, f"last heartbeat {age:.0f} s ago: {self._last_error}")
        return ServiceStatus(True, f"last heartbeat {age:.1f} s ago")
