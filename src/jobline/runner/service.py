"""RunnerService: fetch due jobs in batches, run them concurrently, write outcomes in batches.

Up to `concurrency` jobs run at once; more wait, fetched and locked, for a free slot
(the local queue, sized by runner/prefetch.py: fixed, or about 50 ms of work). Fetching the
next batch while the current one runs keeps the runner from idling one database round trip
per batch; with short jobs a large local queue makes each round trip bring many jobs. While
jobs wait here, a refill waits until it can bring a quarter of the room, so that short jobs
do not turn into one fetch each. On stop the
waiting ones are handed back at once; the running ones get the grace.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from jobline.dburl import error_text
from jobline.logs import get_logger
from jobline.metrics import RUNNER_RUNNING
from jobline.plugins.configs import ConfigCache, PluginConfig
from jobline.plugins.registry import PluginRegistry
from jobline.producer.base import JobProducer
from jobline.retry import Backoff
from jobline.runner.completer import Completer
from jobline.runner.execute import JobExecutor, Run
from jobline.runner.orphans import OrphanSweeper
from jobline.runner.outcome import Outcome, Result
from jobline.runner.plugin_context import PluginContext
from jobline.runner.policies import ExecutionPolicy, JobPolicies
from jobline.runner.prefetch import PrefetchSize
from jobline.runner.threads import HandlerThreads
from jobline.runner.wakeup import WakeUp
from jobline.service import Service, ServiceStatus
from jobline.store import FetchedJob, JobsDB

log = get_logger("jobline.runner")


@dataclass(frozen=True)
class RunnerSettings:
    concurrency: int
    poll_interval_s: float
    policy: ExecutionPolicy
    #: stop fetching when our heartbeat is older than this (peers may rescue our jobs)
    max_beat_age_s: float
    #: of the shutdown grace, kept to write the outcomes once running jobs are done
    shutdown_reserve_s: float = 5.0
    #: readiness turns false with more sync handlers than this running past their timeout
    zombie_threads_unready: int = 10
    #: fetched and locked ahead of a free slot (the local queue); None: adaptive
    prefetch: int | None = None


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
        context: PluginContext | None = None,
        draining: Callable[[], bool] = lambda: False,
    ) -> None:
        super().__init__()
        self._db = jobs_db
        self.runner_id = runner_id
        self._configs = configs
        self._s = settings
        self._beat_age_s = beat_age_s
        self._draining = draining
        self._threads = HandlerThreads()
        self._executor = JobExecutor(registry, producer, settings.policy, self._threads, context)
        self._orphans = OrphanSweeper(jobs_db, runner_id, self._held_ids)
        self._completer = Completer(jobs_db, runner_id, on_unreleased=self._orphans.needed)
        self._wakeup = WakeUp(jobs_db)
        self._in_flight: dict[int, asyncio.Task[None]] = {}  # fetched, running or waiting
        self._running: set[int] = set()
        # Jobs whose sync handler ran past its timeout: locked until their thread ends.
        self._zombie_jobs: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(settings.concurrency)
        self._prefetch = PrefetchSize(settings.prefetch, least=settings.concurrency)
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

    @property
    def policies(self) -> JobPolicies:
        """The job types' policies (retry, timeout) this runner applies; the rescue's too."""
        return self._executor.policies

    def status(self) -> ServiceStatus:
        problems = []
        if self._fetch_error:
            problems.append(f"fetch failing: {self._fetch_error}")
        if not self._completer.healthy:
            problems.append(f"writing job outcomes failing: {self._completer.last_error}")
        if not self._wakeup.listening:
            problems.append("LISTEN connection down (polling)")
        zombies = self._threads.zombies
        if zombies > self._s.zombie_threads_unready:
            problems.append(
                f"{zombies} sync handlers still running past their timeout (over "
                f"JOBLINE_RUNNER_ZOMBIE_THREADS_UNREADY={self._s.zombie_threads_unready}): "
                "their jobs stay locked; fix the handlers' blocking calls, restart the pod"
            )
        if problems:
            return ServiceStatus(False, "; ".join(problems))
        return ServiceStatus(
            True,
            f"{len(self._running)} running, {len(self._in_flight)} fetched, "
            f"{zombies} zombie threads",
        )

    def begin_stop(self) -> None:
        """Stop fetching now; the rest of the stop comes with stop(grace)."""
        self._stopping.set()

    def _held_ids(self) -> set[int]:
        return set(self._in_flight) | self._zombie_jobs | self._completer.held_ids()

    # --- fetch loop ----------------------------------------------------------------------

    async def _main(self) -> None:
        backoff = Backoff(0.2, 5.0)
        while not self.stopping:
            RUNNER_RUNNING.set(len(self._running))  # here, not per job: it is a sample
            capacity = self._s.concurrency + self._prefetch.size(time.monotonic())
            free = capacity - len(self._in_flight)
            waiting = len(self._in_flight) - len(self._running)
            if free <= 0 or (waiting > 0 and free < capacity // 4):
                self._slot_free.clear()
                await self._wait_any(self._slot_free, self._s.poll_interval_s)
                continue
            if self._beat_age_s() > self._s.max_beat_age_s or self._draining():
                # Our heartbeat is stale: peers may take our jobs back. Or an operator
                # drains this runner (`jobline runners drain`). Fetch nothing new.
                await self.sleep_unless_stopping(1.0)
                continue
            try:
                jobs = await self._fetch_round(free)
                self._fetch_error = None
                backoff.reset()
            except Exception as exc:
                # The fetch may have committed and its answer been lost.
                self._orphans.after_lost_answer()
                self._fetch_error = error_text(exc, self._db.url)
                delay = backoff.next()
                log.warning(
                    "runner.fetch_failed", error=self._fetch_error, retry_in_s=round(delay, 2)
                )
                await self.sleep_unless_stopping(delay)
                continue
            if len(jobs) < free:
                await self._wait_any(self._wakeup.flag, self._s.poll_interval_s)

    async def _fetch_round(self, free: int) -> list[FetchedJob]:
        await self._orphans.sweep_if_needed()
        # Cleared before the fetch: a NOTIFY during the fetch still leads to a fetch.
        self._wakeup.flag.clear()
        jobs = await self._db.fetch_due(self.runner_id, free)
        if jobs:
            await self._start_jobs(jobs)
        # About to wait: set the timer for the earliest job not yet due, since a
        # notification may have named it while an earlier timer was pending.
        if len(jobs) < free and (nxt := await self._db.next_run_at()) is not None:
            self._plan_wakeup(nxt)
        return jobs

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
            async with asyncio.timeout(self._db.call_timeout_s):
                configs = await self._configs.get_many([j.plugin_config_id for j in jobs])
        except Exception:
            # Without configs we cannot decide; hand the batch back at once.
            for job in jobs:
                self._completer.add(Outcome(job.id, Result.RELEASED))
            raise
        for job in jobs:
            task = asyncio.create_task(self._run_one(job, configs.get(job.plugin_config_id)))
            self._in_flight[job.id] = task
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run_one(self, job: FetchedJob, config: PluginConfig | None) -> None:
        run = Run(Outcome(job.id, Result.RELEASED))
        try:
            async with self._slots:
                if not self.stopping:  # else fetched but not started: hand it back untouched
                    self._running.add(job.id)
                    run = await self._executor.run(job, config)
        except asyncio.CancelledError:
            # Not started, or still running past the grace: hand it back for another runner.
            run = Run(Outcome(job.id, Result.RELEASED))
        except Exception:  # a bug of ours, never a handler's error
            log.exception("runner.internal_error", job_id=job.id)
        self._running.discard(job.id)
        self._in_flight.pop(job.id, None)
        self._slot_free.set()
        self._prefetch.completed()
        if run.zombie is not None:
            await self._outlive_zombie(job, run.zombie)
        self._completer.add(run.outcome)
        if run.outcome.retry_at is not None:
            self._wakeup.at(run.outcome.retry_at)

    async def _outlive_zombie(self, job: FetchedJob, thread_done: asyncio.Future[Any]) -> None:
        """Keep the job locked (its outcome unwritten) until its handler's thread ends."""
        self._zombie_jobs.add(job.id)
        log.warning(
            "job.thread_still_running",
            job_id=job.id,
            type=job.type,
            zombie_threads=self._threads.zombies,
            detail="the sync handler ignored its timeout; the job stays locked until its "
            "thread ends",
        )
        started = time.monotonic()
        # Cancelled at shutdown: the outcome is written then, and the thread dies with us.
        with contextlib.suppress(BaseException):
            await asyncio.shield(thread_done)
        self._zombie_jobs.discard(job.id)
        log.info("job.thread_ended", job_id=job.id, after_s=round(time.monotonic() - started, 1))

    # --- graceful stop -------------------------------------------------------------------

    async def _close(self, grace_s: float) -> None:
        """Let running jobs finish within the grace minus the reserve, hand the rest back,
        then write every outcome within what is left."""
        deadline = time.monotonic() + grace_s
        waiting = [t for i, t in self._in_flight.items() if i not in self._running]
        for task in waiting:
            task.cancel()
        await asyncio.gather(*waiting, return_exceptions=True)
        running = list(self._tasks)
        if running:
            for_jobs = max(0.0, grace_s - self._s.shutdown_reserve_s)
            log.info("runner.draining", running=len(running), grace_s=round(for_jobs, 1))
            _, still = await asyncio.wait(running, timeout=for_jobs)
            for task in still:
                task.cancel()
            if still:
                await asyncio.gather(*still, return_exceptions=True)
                log.warning("runner.released_unfinished", jobs=len(still))
        self._completer_stop.set()
        completer, listener = self._aux[1], self._aux[0]
        try:
            await asyncio.wait_for(completer, timeout=max(deadline - time.monotonic(), 0.5))
        except TimeoutError:
            log.error("runner.outcomes_unwritten", pending=self._completer.pending)
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
        self._threads.shutdown()
        log.info("runner.stopped", runner_id=self.runner_id)
