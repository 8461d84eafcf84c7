"""Run one fetched job: decide whether it may run, build its meta, enforce its timeout.

Nothing a handler does ends the process: any BaseException it raises (SystemExit,
KeyboardInterrupt, its own CancelledError, GeneratorExit) is that job's failure. Only the
runner's own cancellation (shutdown past the grace) passes through.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from jobline.logs import get_logger
from jobline.metrics import JOB_DURATION, JOB_EXECUTION_LAG, JOBS_RUN
from jobline.plugins.configs import PluginConfig
from jobline.plugins.meta import JobMeta
from jobline.plugins.plugin import Handler, JobDefinition
from jobline.plugins.registry import PluginRegistry
from jobline.producer.base import JobProducer
from jobline.producer.trigger import ConfigJobs
from jobline.runner.admission import Admission
from jobline.runner.outcome import Outcome, Result, clean_error
from jobline.runner.plugin_context import JobIdentity, PluginContext
from jobline.runner.policies import ExecutionPolicy, JobPolicies
from jobline.runner.threads import HandlerExited, HandlerThreads, ThreadWork
from jobline.store import FetchedJob

log = get_logger("jobline.runner")


class _TypeMetrics:
    """The metric children of one job type, looked up once instead of on every run."""

    __slots__ = ("duration", "failed", "lag", "retry", "success")

    def __init__(self, label: str) -> None:
        self.lag = JOB_EXECUTION_LAG.labels(label)
        self.duration = JOB_DURATION.labels(label)
        self.success = JOBS_RUN.labels(label, Result.SUCCESS.value)
        self.retry = JOBS_RUN.labels(label, Result.RETRY.value)
        self.failed = JOBS_RUN.labels(label, Result.FAILED.value)


@dataclass(frozen=True, slots=True)
class Run:
    """A run's outcome and, for a sync handler past its timeout, its still-running thread:
    the outcome is written once that thread ends (the job stays locked until then)."""

    outcome: Outcome
    zombie: asyncio.Future[Any] | None = None


class _JobTimedOut(Exception):
    def __init__(self, timeout_s: float, zombie: asyncio.Future[Any] | None = None) -> None:
        super().__init__(f"timed out after {timeout_s:g} s (job timeout)")
        self.zombie = zombie


def _our_cancellation() -> bool:
    """Is the current task being cancelled by someone (not a handler raising the error)?"""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def _job_log(job: FetchedJob) -> Any:
    # Bound only where a job's events are logged (failures, meta outside a server): a bind
    # per successful job is a measurable share of a trivial job's cost.
    return log.bind(
        job_id=job.id, type=job.type, plugin_config_id=job.plugin_config_id, team_id=job.team_id
    )


def describe(exc: BaseException) -> str:
    if isinstance(exc, HandlerExited):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


class JobExecutor:
    def __init__(
        self,
        registry: PluginRegistry,
        producer: JobProducer,
        policy: ExecutionPolicy,
        threads: HandlerThreads,
        context: PluginContext | None = None,
    ) -> None:
        self._registry = registry
        self._context = context
        self._producer = producer
        self.policies = JobPolicies(registry, policy)
        self._admission = Admission(registry, self.policies)
        self._threads = threads
        self._metrics: dict[str, _TypeMetrics] = {}
        self._is_async: dict[Handler, bool] = {}

    def _metrics_of(self, job_type: str) -> _TypeMetrics:
        found = self._metrics.get(job_type)
        if found is None:
            found = self._metrics[job_type] = _TypeMetrics(self.policies.label(job_type))
        return found

    async def run(self, job: FetchedJob, config: PluginConfig | None) -> Run:
        definition = self._admission.decide(job, config)
        if isinstance(definition, Outcome):
            return Run(definition)
        assert config is not None
        if self._context is not None:
            plugin = self._registry.get(config.plugin)
            assert plugin is not None  # admission checked it
            setup_error = await self._context.prepare(plugin, config)
            if setup_error is not None:
                return Run(self._admission.setup_failing(job, setup_error))
        meta = self._meta(job, config)
        metrics = self._metrics_of(job.type)
        metrics.lag.observe(max(0.0, (datetime.now(UTC) - job.run_at).total_seconds()))
        started = time.perf_counter()
        zombie = None
        try:
            await self._call(definition, job.payload, meta)
        except _JobTimedOut as exc:
            error, zombie = str(exc), exc.zombie
        except asyncio.CancelledError as exc:
            if _our_cancellation():
                raise
            error = f"{describe(exc)} (raised by the handler, not a cancellation by the runner)"
        except BaseException as exc:
            error = describe(exc)
        else:
            elapsed = time.perf_counter() - started
            metrics.duration.observe(elapsed)
            metrics.success.inc()
            log.debug("job.completed", job_id=job.id, ms=round(elapsed * 1000, 2))
            return Run(Outcome(job.id, Result.SUCCESS))
        metrics.duration.observe(time.perf_counter() - started)
        return Run(self._failure(job, definition, clean_error(error)), zombie)

    def _meta(self, job: FetchedJob, config: PluginConfig) -> JobMeta:
        attempt = job.attempts + 1
        if self._context is not None:
            identity = JobIdentity(job.id, job.type, job.plugin_config_id, job.team_id, attempt)
            return self._context.job_meta(identity, config)
        return JobMeta(
            config=config.settings,
            team_id=job.team_id,
            plugin_config_id=job.plugin_config_id,
            jobs=ConfigJobs(self._producer, job.plugin_config_id, job.team_id),
            job_id=job.id,
            job_type=job.type,
            attempt=attempt,
            logger=_job_log(job),
        )

    async def _call(self, definition: JobDefinition, payload: Any, meta: JobMeta) -> None:
        handler = definition.handler
        timeout_s = self.policies.timeout_of(definition)
        is_async = self._is_async.get(handler)
        if is_async is None:
            is_async = self._is_async[handler] = inspect.iscoroutinefunction(handler)
        if not is_async:
            result = await self._call_in_thread(handler, payload, meta, timeout_s)
            if inspect.isawaitable(result):
                await self._await_with_timeout(result, timeout_s)
            return
        await self._await_with_timeout(handler(payload, meta), timeout_s)

    @staticmethod
    async def _await_with_timeout(awaitable: Any, timeout_s: float) -> None:
        # asyncio.timeout, unlike wait_for, runs the handler without a task of its own.
        timeout = asyncio.timeout(timeout_s)
        try:
            async with timeout:
                await awaitable
        except TimeoutError:
            if timeout.expired():
                raise _JobTimedOut(timeout_s) from None
            raise  # the handler's own TimeoutError: an ordinary failure

    async def _call_in_thread(
        self, handler: Handler, payload: Any, meta: JobMeta, timeout_s: float
    ) -> Any:
        work = self._threads.submit(handler, payload, meta)
        try:
            await work.started  # the timeout starts with the handler, not in the queue
        except asyncio.CancelledError:
            if not self._threads.abandon(work):
                self._watch_zombie(work)
            raise
        try:
            async with asyncio.timeout(timeout_s):
                return await asyncio.shield(work.done)
        except TimeoutError:
            if work.done.done():
                raise  # the handler's own TimeoutError, just in time
            self._watch_zombie(work)
            raise _JobTimedOut(timeout_s, work.done) from None
        except asyncio.CancelledError:
            if not work.done.done():
                self._watch_zombie(work)
            raise

    def _watch_zombie(self, work: ThreadWork) -> None:
        self._threads.became_zombie()

        def ended(done: asyncio.Future[Any]) -> None:
            self._threads.zombie_ended()
            if not done.cancelled():
                done.exception()  # retrieved: asyncio would log it as never retrieved

        work.done.add_done_callback(ended)

    def _failure(self, job: FetchedJob, definition: JobDefinition, error: str) -> Outcome:
        bound = _job_log(job)
        policy = self.policies.retry_of(definition)
        attempts = job.attempts + 1
        max_attempts = policy.limit(job.max_attempts)
        if policy.used_up(attempts, job.max_attempts):
            self._metrics_of(job.type).failed.inc()
            bound.warning("job.failed", attempt=attempts, max_attempts=max_attempts, error=error)
            return Outcome(job.id, Result.FAILED, error=error)
        delay = policy.delay_s(attempts)
        self._metrics_of(job.type).retry.inc()
        bound.info(
            "job.retry_scheduled",
            attempt=attempts,
            max_attempts=max_attempts,
            retry_in_s=round(delay, 2),
            error=error,
        )
        return Outcome(
            job.id, Result.RETRY, error=error, retry_at=datetime.now(UTC) + timedelta(seconds=delay)
        )
