"""RunnerService: fetch due jobs in batches, run them concurrently, write outcomes in batches.

Up to `concurrency` jobs run at once; up to as many more wait, fetched and locked, for a
free slot. Fetching the next batch while the current one runs keeps the runner from
idling one database round trip per batch. On stop the waiting ones are handed back at
once; the running ones get the grace.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

from jobline.logs import get_logger
from jobline.metrics import RUNNER_RUNNING
from jobline.plugins.configs import ConfigCache, PluginConfig
from jobline.plugins.registry import PluginRegistry
from jobline.producer.base import JobProducer
from jobline.runner.completer import Completer
from jobline.runner.execute import ExecutionPolicy, JobExecutor
from jobline.runner.outcome import Outcome, Result
from jobline.runner.wakeup import WakeUp
from jobline.service import Service, ServiceStatus
from jobline.store import FetchedJob, JobsDB

log = get_logger("jobline.runner")


@dataclass(frozen=True)
class RunnerSettings:
    concurrency: int
    poll_interval_s: float
    policy: ExecutionPolicy
    disabled_config_delay_s: float
    #: stop fetching when our heartbeat is older than this (peers may rescue our jobs)
    max_beat_age_s: float


class RunnerService(Service):
    name = "runner"

    def __init__(
        self,
        jobs_db: JobsDB,
        runner_id: str,
        registry: PluginRegistry,
        configs: ConfigCache,
        producer: JobProducer,
        settings: RunnerSettings,
        beat_age_s: Callable[[], float],
        draining: Callable[[], bool] = lambda: False,
    ) -> None:
        super().__init__()
        self._db = jobs_db
        self.runner_id = runner_id
        self._configs = configs
        self._s = settings
        self._beat_age_s = beat_age_s
        self._draining = draining
        self._threads = ThreadPoolExecutor(settings.concurrency, thread_name_prefix="job")
        self._executor = JobExecutor(registry, producer, settings.policy, self._threads)
        self._completer = Completer(jobs_db, runner_id, postpone_s=settings.disabled_config_delay_s)
        self._wakeup = WakeUp(jobs_db)
        self._in_flight: dict[int, asyncio.Task[None]] = {}  # fetched, running or waiting
        self._running: set[int] = set()
        self._slots = asyncio.Semaphore(settings.concurrency)
        self._capacity = 2 * settings.concurrency
        self._slot_free = asyncio.Event()
        self._aux: list[asyncio.Task[None]] = []
        self._completer_stop = asyncio.Event()
        self._fetch_error: str | None = None

    async def _open(self) -> None:
        self._aux = [
            asyncio.create_task(self._wakeup.listen_forever(), name="runner-listen"),
            asyncio.create_task(self._completer.run(self._completer_stop), name="runner-completer"),
        ]
        log.info("runner.started", runner_id=self.runner_id, concurrency=self._s.concurrency)

    def status(self) -> ServiceStatus:
        problems = []
        if self._fetch_error:
            problems.append(f"fetch failing: {self._fetch_error}")
        if not self._completer.healthy:
            problems.append("writing job outcomes failing")
        if not self._wakeup.listening:
            problems.append("LISTEN connection down (polling)")
        if problems:
            return ServiceStatus(False, "; ".join(problems))
        return ServiceStatus(True, f"{len(self._running)} running, {len(self._in_flight)} fetched")

    # --- fetch loop ----------------------------------------------------------------------

    async def _main(self) -> None:
        delay = 0.2
        while not self.stopping:
            RUNNER_RUNNING.set(len(self._running))  # here, not per job: it is a sample
            free = min(self._capacity - len(self._in_flight), self._s.concurrency)
            if free <= 0:
                self._slot_free.clear()
                await self._wait_any(self._slot_free, self._s.poll_interval_s)
                continue
            if self._beat_age_s() > self._s.max_beat_age_s or self._draining():
                # Our heartbeat is stale: peers may take our jobs back. Or an operator
                # drains this runner (`jobline runners drain`). Fetch nothing new.
                await self.sleep_unless_stopping(1.0)
                continue
            # Cleared before the fetch: a NOTIFY during the fetch still leads to a fetch.
            self._wakeup.flag.clear()
            try:
                jobs = await self._db.fetch_due(self.runner_id, free)
                if jobs:
                    await self._start_jobs(jobs)
                # About to wait: set the timer for the earliest job not yet due, since a
                # notification may have named it while an earlier timer was pending.
                if len(jobs) < free and (nxt := await self._db.next_run_at()) is not None:
                    self._plan_wakeup(nxt)
                self._fetch_error = None
                delay = 0.2
            except Exception as exc:
                self._fetch_error = str(exc).strip()
                log.warning("runner.fetch_failed", error=self._fetch_error, retry_in_s=delay)
                await self.sleep_unless_stopping(delay)
                delay = min(delay * 2, 5.0)
                continue
            if len(jobs) < free:
                await self._wait_any(self._wakeup.flag, self._s.poll_interval_s)

    def _plan_wakeup(self, next_run_at: datetime) -> None:
        # A due job we did not get (a peer's, or behind its queue's head) is no reason to
        # spin: notifications, freed slots and the poll cover those.
        if next_run_at > datetime.now(UTC):
            self._wakeup.at(next_run_at)

    async def _wait_any(self, event: asyncio.Event, timeout_s: float) -> None:
        stop = asyncio.ensure_future(self._stopping.wait())
        other = asyncio.ensure_future(event.wait())
        try:
            await asyncio.wait(
                {stop, other}, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            stop.cancel()
            other.cancel()

    async def _start_jobs(self, jobs: list[FetchedJob]) -> None:
        try:
            configs = await self._configs.get_many([j.plugin_config_id for j in jobs])
        except Exception:
            # Without configs we cannot decide; hand the batch back at once.
            for job in jobs:
                self._completer.add(Outcome(job.id, Result.RELEASED))
            raise
        for job in jobs:
            task = asyncio.create_task(self._run_one(job, configs.get(job.plugin_config_id)))
            self._in_flight[job.id] = task

    async def _run_one(self, job: FetchedJob, config: PluginConfig | None) -> None:
        try:
            async with self._slots:
                if self.stopping:  # fetched but not started: hand it back untouched
                    outcome = Outcome(job.id, Result.RELEASED)
                else:
                    self._running.add(job.id)
                    outcome = await self._executor.run(job, config)
        except asyncio.CancelledError:
            # Not started, or still running past the grace: hand it back for another runner.
            outcome = Outcome(job.id, Result.RELEASED)
        except Exception as exc:  # a bug of ours, never a handler's error
            log.exception("runner.internal_error", job_id=job.id)
            outcome = Outcome(job.id, Result.RELEASED, error=str(exc))
        self._completer.add(outcome)
        if outcome.retry_at is not None:
            self._wakeup.at(outcome.retry_at)
        self._running.discard(job.id)
        self._in_flight.pop(job.id, None)
        self._slot_free.set()

    # --- graceful stop -------------------------------------------------------------------

    async def _close(self, grace_s: float) -> None:
        """Let running jobs finish within the grace, hand the rest back, write outcomes."""
        deadline = time.monotonic() + grace_s
        waiting = [t for i, t in self._in_flight.items() if i not in self._running]
        for task in waiting:
            task.cancel()
        await asyncio.gather(*waiting, return_exceptions=True)
        running = list(self._in_flight.values())
        if running:
            log.info("runner.draining", running=len(running), grace_s=grace_s)
            _, still = await asyncio.wait(running, timeout=grace_s)
            for task in still:
                task.cancel()
            if still:
                await asyncio.gather(*still, return_exceptions=True)
                log.warning("runner.released_unfinished", jobs=len(still))
        # The completer exits once everything is written; give it the rest of the grace
        # (at least a few seconds: unwritten outcomes mean jobs run again after rescue).
        self._completer_stop.set()
        completer, listener = self._aux[1], self._aux[0]
        try:
            await asyncio.wait_for(completer, timeout=max(deadline - time.monotonic(), 5.0))
        except TimeoutError:
            log.error("runner.outcomes_unwritten", pending=self._completer.pending)
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
        self._threads.shutdown(wait=False, cancel_futures=True)
        log.info("runner.stopped", runner_id=self.runner_id)
