"""Run one fetched job: find its handler, build its meta, enforce its timeout."""

from __future__ import annotations

import asyncio
import inspect
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from jobline.logs import get_logger
from jobline.metrics import JOB_DURATION, JOB_EXECUTION_LAG, JOBS_RUN
from jobline.plugins.configs import PluginConfig
from jobline.plugins.meta import JobMeta
from jobline.plugins.plugin import Handler, JobDefinition, Plugin
from jobline.plugins.registry import PluginRegistry
from jobline.producer.base import JobProducer
from jobline.producer.trigger import ConfigJobs
from jobline.runner.backoff import backoff_seconds
from jobline.runner.outcome import Outcome, Result
from jobline.runner.plugin_context import JobIdentity, PluginContext
from jobline.store import FetchedJob

log = get_logger("jobline.runner")


class _TypeMetrics:
    """The metric children of one job type, looked up once instead of on every run."""

    __slots__ = ("duration", "failed", "lag", "retry", "skipped", "success")

    def __init__(self, job_type: str) -> None:
        self.lag = JOB_EXECUTION_LAG.labels(job_type)
        self.duration = JOB_DURATION.labels(job_type)
        self.success = JOBS_RUN.labels(job_type, Result.SUCCESS.value)
        self.retry = JOBS_RUN.labels(job_type, Result.RETRY.value)
        self.failed = JOBS_RUN.labels(job_type, Result.FAILED.value)
        self.skipped = JOBS_RUN.labels(job_type, Result.SKIPPED.value)


@dataclass(frozen=True)
class ExecutionPolicy:
    default_timeout_s: float
    default_max_attempts: int
    retry_base_s: float
    retry_cap_s: float


class JobExecutor:
    def __init__(
        self,
        registry: PluginRegistry,
        producer: JobProducer,
        policy: ExecutionPolicy,
        threads: ThreadPoolExecutor,
        context: PluginContext | None = None,
    ) -> None:
        self._context = context
        self._registry = registry
        self._producer = producer
        self._policy = policy
        self._threads = threads
        self._metrics: dict[str, _TypeMetrics] = {}
        self._is_async: dict[Handler, bool] = {}

    def _metrics_of(self, job_type: str) -> _TypeMetrics:
        found = self._metrics.get(job_type)
        if found is None:
            found = self._metrics[job_type] = _TypeMetrics(job_type)
        return found

    def _resolve(self, job: FetchedJob, config: PluginConfig | None) -> JobDefinition | Outcome:
        """The job's definition, or the outcome of not running it (and why)."""
        if config is None:
            return self._not_runnable(
                job,
                "unknown_config",
                f"plugin config {job.plugin_config_id} does not exist in the main DB (deleted?)",
            )
        plugin = self._registry.get(config.plugin)
        if plugin is None:
            return self._not_runnable(
                job,
                "unknown_plugin",
                f"plugin {config.plugin!r} is not loaded by this runner "
                f"(loaded: {self._registry.names()}); install it or fix "
                "JOBLINE_PLUGINS",
            )
        definition = plugin.job(job.type)
        if definition is None:
            return self._not_runnable(
                job,
                "unknown_type",
                f"plugin {plugin.name!r} defines no job {job.type!r} "
                f"(it defines {sorted(plugin.jobs)})",
            )
        if not config.enabled:
            self._metrics_of(job.type).skipped.inc()
            log.info(
                "job.postponed",
                job_id=job.id,
                type=job.type,
                plugin_config_id=job.plugin_config_id,
                team_id=job.team_id,
                reason="plugin config disabled",
            )
            return Outcome(job.id, Result.SKIPPED)
        return definition

    def _not_runnable(self, job: FetchedJob, reason: str, error: str) -> Outcome:
        # Kept in failed_jobs (not dropped): an operator can fix the cause and retry it.
        self._metrics_of(job.type).failed.inc()
        log.warning(
            "job.not_runnable",
            job_id=job.id,
            type=job.type,
            reason=reason,
            plugin_config_id=job.plugin_config_id,
            team_id=job.team_id,
            error=error,
        )
        return Outcome(job.id, Result.FAILED, error=error)

    async def run(self, job: FetchedJob, config: PluginConfig | None) -> Outcome:
        resolved = self._resolve(job, config)
        if isinstance(resolved, Outcome):
            return resolved
        assert config is not None
        definition = resolved
        bound = log.bind(
            job_id=job.id, type=job.type, plugin_config_id=job.plugin_config_id, team_id=job.team_id
        )
        if self._context is not None:
            setup_error = await self._context.prepare(self._registry_plugin(config), config)
            if setup_error is not None:
                return self._postpone(job, f"plugin setup failing: {setup_error}")
        meta = self._meta(job, config, bound)
        timeout_s = definition.timeout_s or self._policy.default_timeout_s
        metrics = self._metrics_of(job.type)
        metrics.lag.observe(max(0.0, (datetime.now(UTC) - job.run_at).total_seconds()))
        started = time.perf_counter()
        try:
            # asyncio.timeout, unlike wait_for, runs the handler without a task of its own.
            async with asyncio.timeout(timeout_s):
                await self._call(definition, job.payload, meta)
        except TimeoutError:
            error = f"timed out after {timeout_s:g} s (job timeout)"
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
        else:
            elapsed = time.perf_counter() - started
            metrics.duration.observe(elapsed)
            metrics.success.inc()
            bound.debug("job.completed", ms=round(elapsed * 1000, 2))
            return Outcome(job.id, Result.SUCCESS)
        metrics.duration.observe(time.perf_counter() - started)
        return self._failure(job, definition, error, bound)

    def _registry_plugin(self, config: PluginConfig) -> Plugin:
        plugin = self._registry.get(config.plugin)
        assert plugin is not None  # _resolve checked it
        return plugin

    def _meta(self, job: FetchedJob, config: PluginConfig, bound: Any) -> JobMeta:
        identity = JobIdentity(
            job.id, job.type, job.plugin_config_id, job.team_id, job.attempts + 1
        )
        if self._context is not None:
            return self._context.job_meta(identity, config)
        return JobMeta(
            config=config.settings,
            team_id=job.team_id,
            plugin_config_id=job.plugin_config_id,
            jobs=ConfigJobs(self._producer, job.plugin_config_id, job.team_id),
            job_id=job.id,
            job_type=job.type,
            attempt=identity.attempt,
            logger=bound,
        )

    def _postpone(self, job: FetchedJob, reason: str) -> Outcome:
        self._metrics_of(job.type).skipped.inc()
        log.info(
            "job.postponed",
            job_id=job.id,
            type=job.type,
            plugin_config_id=job.plugin_config_id,
            team_id=job.team_id,
            reason=reason,
        )
        return Outcome(job.id, Result.SKIPPED)

    async def _call(self, definition: JobDefinition, payload: Any, meta: JobMeta) -> None:
        handler = definition.handler
        is_async = self._is_async.get(handler)
        if is_async is None:
            is_async = self._is_async[handler] = inspect.iscoroutinefunction(handler)
        if is_async:
            await handler(payload, meta)
            return
        # A sync handler runs in the thread pool. On timeout its thread cannot be killed;
        # the run counts as failed and the thread finishes on its own.
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(self._threads, handler, payload, meta)
        if inspect.isawaitable(result):
            await result

    def _failure(
        self, job: FetchedJob, definition: JobDefinition, error: str, bound: Any
    ) -> Outcome:
        attempts = job.attempts + 1
        max_attempts = (
            job.max_attempts or definition.max_attempts or self._policy.default_max_attempts
        )
        if attempts >= max_attempts:
            self._metrics_of(job.type).failed.inc()
            bound.warning("job.failed", attempt=attempts, max_attempts=max_attempts, error=error)
            return Outcome(job.id, Result.FAILED, error=error)
        delay = backoff_seconds(attempts, self._policy.retry_base_s, self._policy.retry_cap_s)
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
