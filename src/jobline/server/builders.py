"""One builder per capability: the services a capability runs, from what they need.

The builder is the only code that reads `Settings`; each service receives plain values
(or a small settings value of its own) when it is built.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AsyncExitStack

from jobline.config import IntakeKind, Settings
from jobline.databases import jobs_db_for, main_db_for
from jobline.dburl import DbLimits
from jobline.errors import PluginLoadError
from jobline.http.service import HttpService, RouteAdder
from jobline.http.trigger_api import TriggerApi
from jobline.intake import IntakeService, IntakeSettings
from jobline.logs import get_logger
from jobline.metrics import PLUGINS_FAILED
from jobline.migrator import opened
from jobline.plugins.config_watcher import ConfigWatcher
from jobline.plugins.configs import ConfigCache, MainDB
from jobline.plugins.lifecycle import SetupPolicy
from jobline.plugins.plugin_logs import PluginLogBuffer, PluginLogWriter
from jobline.plugins.registry import PluginRegistry
from jobline.producer import JobProducer, build_producer
from jobline.retry import RetryPolicy
from jobline.runner import HeartbeatService, RunnerService, RunnerSettings
from jobline.runner.plugin_context import PluginContext
from jobline.runner.policies import ExecutionPolicy
from jobline.runner.sampler import IntakeWatch, SamplerService
from jobline.scheduler import SchedulerService, SchedulerSettings, plan_tasks
from jobline.server.capabilities import MODES, START_ORDER, Capability
from jobline.service import Service, ServiceStatus
from jobline.store import JobsDB
from jobline.store.ticks import TickStore

log = get_logger("jobline.server")

Readiness = Callable[[], Mapping[str, ServiceStatus]]


def load_plugins(plugins_setting: str) -> PluginRegistry:
    """Every plugin that loads; each one that does not is logged and counted, not fatal."""
    failures: list[PluginLoadError] = []
    registry = PluginRegistry.discover(plugins_setting, failures=failures)
    for failure in failures:
        log.error("plugin.load_failed", error=str(failure))
    PLUGINS_FAILED.set(len(failures))
    return registry


def new_runner_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


def application_name(capabilities: frozenset[Capability]) -> str:
    """`jobline-<mode>` (`jobline-jobs`), or `jobline-<capability+...>` for a custom set:
    what pg_stat_activity (and PgBouncer's SHOW CLIENTS) shows for this process."""
    for mode, preset in MODES.items():
        if preset == capabilities:
            return f"jobline-{mode}"
    return "jobline-" + "+".join(sorted(c.value for c in capabilities))


def runner_settings(s: Settings) -> RunnerSettings:
    policy = ExecutionPolicy(
        default_timeout_s=s.job_timeout_s,
        retry=RetryPolicy(s.max_attempts, s.retry_base_s, s.retry_cap_s),
        disabled_config_delay_s=s.disabled_config_delay_s,
        unknown_give_up_s=s.unknown_job_give_up_s,
    )
    return RunnerSettings(
        concurrency=s.runner_concurrency,
        prefetch=s.runner_prefetch,
        poll_interval_s=s.runner_poll_interval_s,
        policy=policy,
        max_beat_age_s=s.runner_dead_after_s / 2,
        shutdown_reserve_s=min(s.shutdown_reserve_s, s.shutdown_grace_s / 2),
        zombie_threads_unready=s.runner_zombie_threads_unready,
    )


def intake_settings(s: Settings) -> IntakeSettings:
    return IntakeSettings(
        kafka_hosts=s.kafka_hosts,
        topic=s.jobs_topic,
        dlq_topic=s.dlq_topic,
        group=s.intake_group,
        batch_size=s.intake_batch_size,
        batch_ms=s.intake_batch_ms,
        max_message_bytes=s.max_message_bytes,
        produce_timeout_s=s.produce_timeout_s,
        give_up_after_s=s.intake_db_down_exit_s,
        skip_configs=s.skipped_config_ids,
        session_timeout_s=s.intake_session_timeout_s,
        db_timeout_s=s.intake_db_timeout_s,
    )


class ServiceBuilder:
    """Builds the services of a set of capabilities; what they open closes with `stack`.

    Every process loads the plugins and can trigger jobs, so the registry and the producer
    are built for all; the jobs DB is opened once, by the first capability that needs it.
    """

    def __init__(
        self,
        settings: Settings,
        capabilities: frozenset[Capability],
        stack: AsyncExitStack,
        readiness: Readiness,
    ) -> None:
        self._s = settings
        self._capabilities = capabilities
        self._stack = stack
        self._readiness = readiness
        self._limits = DbLimits.from_settings(settings, application_name(capabilities))
        self._jobs_db: JobsDB | None = None
        self._main_db: MainDB | None = None
        self.registry = load_plugins(settings.plugins)
        self.producer: JobProducer = build_producer(settings, self._limits)
        stack.callback(self.producer.close)

    async def build(self) -> list[Service]:
        """The services in START_ORDER (the server stops them in reverse)."""
        builders: dict[Capability, Callable[[], Awaitable[list[Service]]]] = {
            Capability.HTTP: self.http,
            Capability.RUNNER: self.runner,
            Capability.SCHEDULER: self.scheduler,
            Capability.INTAKE: self.intake,
        }
        services: list[Service] = []
        for capability in START_ORDER:
            if capability in self._capabilities:
                services += await builders[capability]()
        log.info("server.plugins", plugins=self.registry.names())
        return services

    async def jobs_db(self) -> JobsDB:
        if self._jobs_db is None:
            s = self._s
            self._jobs_db = await self._stack.enter_async_context(
                opened(
                    jobs_db_for(s, max_size=8, limits=self._limits),
                    migrate_first=s.migrate_on_start,
                )
            )
        return self._jobs_db

    async def main_db(self) -> MainDB:
        if self._main_db is None:
            s = self._s
            self._main_db = await self._stack.enter_async_context(
                opened(
                    main_db_for(s, limits=self._limits),
                    migrate_first=s.migrate_on_start,
                )
            )
        return self._main_db

    async def http(self) -> list[Service]:
        s = self._s
        routes = await self.trigger_api()
        return [HttpService(s.http_host, s.http_port, self._readiness, routes)]

    async def trigger_api(self) -> list[RouteAdder]:
        """The trigger API needs the main DB; a process without API tokens opens none."""
        s = self._s
        tokens = [t.strip() for t in s.api_tokens.split(",") if t.strip()]
        if not tokens:
            return []
        configs = ConfigCache(await self.main_db())
        api = TriggerApi(tokens, self.registry, configs, self.producer, s.max_message_bytes)
        return [api.add_routes]

    async def runner(self) -> list[Service]:
        s = self._s
        jobs_db = await self.jobs_db()
        main_db = await self.main_db()
        runner_id = new_runner_id()
        configs = ConfigCache(main_db)
        watcher = ConfigWatcher(main_db.direct_url, s.schema_name, [configs.forget], self._limits)
        context, log_writer = self.plugin_context(main_db)
        runner = RunnerService(
            jobs_db,
            runner_id,
            self.registry,
            configs,
            self.producer,
            runner_settings(s),
            beat_age_s=lambda: heartbeat.beat_age_s,
            context=context,
            draining=lambda: heartbeat.draining,
        )
        heartbeat = HeartbeatService(
            jobs_db,
            runner_id,
            sorted(self._capabilities),
            interval_s=s.runner_heartbeat_s,
            dead_after_s=s.runner_dead_after_s,
            max_attempts_of=runner.policies.max_attempts_of_type,
            drain_requested=jobs_db.drain_requested,
        )
        return [heartbeat, watcher, log_writer, runner, self.sampler(jobs_db)]

    def plugin_context(self, main_db: MainDB) -> tuple[PluginContext, PluginLogWriter]:
        """What handlers get (meta, storage, logs, setup), and the writer of their logs."""
        log_buffer = PluginLogBuffer()
        log_writer = PluginLogWriter(
            main_db, log_buffer, retention_days=self._s.plugin_log_retention_days
        )
        context = PluginContext(main_db, self.producer, log_buffer, SetupPolicy())
        # Runs after every service stopped, while the main DB is still open.
        self._stack.push_async_callback(context.lifecycle.teardown_all)
        return context, log_writer

    def sampler(self, jobs_db: JobsDB) -> SamplerService:
        s = self._s
        kafka = s.intake is IntakeKind.KAFKA
        return SamplerService(
            jobs_db,
            interval_s=s.sample_interval_s,
            dead_after_s=s.runner_dead_after_s,
            intake=IntakeWatch(s.kafka_hosts, s.jobs_topic, s.intake_group) if kafka else None,
        )

    async def scheduler(self) -> list[Service]:
        s = self._s
        scheduler = SchedulerService(
            TickStore(await self.jobs_db()),
            await self.main_db(),
            self.producer,
            plan_tasks(self.registry),
            SchedulerSettings(new_runner_id(), s.scheduler_check_interval_s),
        )
        return [scheduler]

    async def intake(self) -> list[Service]:
        # Opened (and migrated) even for the direct intake: its producers write into it.
        jobs_db = await self.jobs_db()
        if self._s.intake is IntakeKind.DIRECT:
            log.info(
                "intake.not_started",
                detail="JOBLINE_INTAKE=direct: triggers write to the jobs DB themselves, "
                "there is no Kafka topic to consume",
            )
            return []
        return [IntakeService(jobs_db, intake_settings(self._s))]
