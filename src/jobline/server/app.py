"""`jobline serve`: build the services of this process's capabilities, run, stop cleanly."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import uuid
from contextlib import AsyncExitStack

from jobline.config import IntakeKind, Settings
from jobline.http.service import HttpService
from jobline.intake import IntakeService, IntakeSettings
from jobline.logs import get_logger
from jobline.migrator import opened
from jobline.plugins.configs import ConfigCache, MainDB
from jobline.plugins.registry import PluginRegistry
from jobline.producer import build_producer
from jobline.runner import HeartbeatService, RunnerService, RunnerSettings
from jobline.runner.execute import ExecutionPolicy
from jobline.runner.sampler import IntakeWatch, SamplerService
from jobline.server.capabilities import Capability
from jobline.service import Service, ServiceStatus
from jobline.store import JobsDB

log = get_logger("jobline.server")


def new_runner_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class Server:
    def __init__(self, settings: Settings, capabilities: frozenset[Capability]) -> None:
        self.settings = settings
        self.capabilities = capabilities
        self.services: list[Service] = []
        self._stop = asyncio.Event()

    def request_stop(self) -> None:
        self._stop.set()

    async def _build(self, stack: AsyncExitStack) -> list[Service]:
        s = self.settings
        caps = self.capabilities
        registry = PluginRegistry.discover(s.plugins)
        producer = build_producer(s)
        stack.callback(producer.close)
        services: list[Service] = []
        if Capability.HTTP in caps:
            services.append(HttpService(s.http_host, s.http_port, self.readiness))
        jobs_db: JobsDB | None = None
        if Capability.RUNNER in caps or Capability.INTAKE in caps:
            jobs_db = await stack.enter_async_context(
                opened(
                    JobsDB(s.jobs_database_url, s.schema_name, max_size=8),
                    migrate_first=s.migrate_on_start,
                )
            )
        if Capability.RUNNER in caps:
            assert jobs_db is not None
            main_db = await stack.enter_async_context(
                opened(MainDB(s.database_url, s.schema_name), migrate_first=s.migrate_on_start)
            )
            runner_id = new_runner_id()
            heartbeat = HeartbeatService(
                jobs_db,
                runner_id,
                sorted(caps),
                interval_s=s.runner_heartbeat_s,
                dead_after_s=s.runner_dead_after_s,
                default_max_attempts=s.max_attempts,
            )
            policy = ExecutionPolicy(s.job_timeout_s, s.max_attempts, s.retry_base_s, s.retry_cap_s)
            runner = RunnerService(
                jobs_db,
                runner_id,
                registry,
                ConfigCache(main_db),
                producer,
                RunnerSettings(
                    s.runner_concurrency,
                    s.runner_poll_interval_s,
                    policy,
                    s.disabled_config_delay_s,
                    s.runner_dead_after_s / 2,
                ),
                beat_age_s=lambda: heartbeat.beat_age_s,
            )
            sampler = SamplerService(
                jobs_db,
                interval_s=s.sample_interval_s,
                dead_after_s=s.runner_dead_after_s,
                intake=IntakeWatch(s.kafka_hosts, s.jobs_topic, s.intake_group)
                if s.intake is IntakeKind.KAFKA
                else None,
            )
            services += [heartbeat, runner, sampler]
        if Capability.SCHEDULER in caps:
            log.warning(
                "scheduler.not_available",
                detail="the scheduler capability is not built yet; nothing fires "
                "scheduled tasks in this process",
            )
        if Capability.INTAKE in caps and s.intake is IntakeKind.DIRECT:
            log.info(
                "intake.not_started",
                detail="JOBLINE_INTAKE=direct: triggers write to the jobs DB themselves, "
                "there is no Kafka topic to consume",
            )
        elif Capability.INTAKE in caps:
            assert jobs_db is not None
            services.append(
                IntakeService(
                    jobs_db,
                    IntakeSettings(
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
                    ),
                )
            )
        log.info("server.plugins", plugins=registry.names())
        return services

    def readiness(self) -> dict[str, ServiceStatus]:
        return {svc.name: svc.status() for svc in self.services}

    async def run(self) -> int:
        """Run until SIGTERM/SIGINT (exit 0) or until a service dies (exit 1)."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop)
        exit_code = 0
        async with AsyncExitStack() as stack:
            self.services = await self._build(stack)
            started: list[Service] = []
            try:
                for svc in self.services:
                    await svc.start()
                    started.append(svc)
                log.info(
                    "server.started",
                    capabilities=sorted(c.value for c in self.capabilities),
                    intake=self.settings.intake.value,
                )
                exit_code = await self._wait_for_stop_or_failure()
            finally:
                grace = self.settings.shutdown_grace_s
                log.info("server.stopping", grace_s=grace)
                for svc in reversed(started):
                    try:
                        await svc.stop(grace)
                    except Exception:
                        log.exception("service.stop_failed", service=svc.name)
                        exit_code = exit_code or 1
        log.info("server.stopped", exit_code=exit_code)
        return exit_code

    async def _wait_for_stop_or_failure(self) -> int:
        stop: asyncio.Future[object] = asyncio.ensure_future(self._stop.wait())
        watched: dict[asyncio.Future[object], Service] = {
            asyncio.ensure_future(svc.wait()): svc for svc in self.services
        }
        done, _ = await asyncio.wait({stop, *watched}, return_when=asyncio.FIRST_COMPLETED)
        for fut in watched:
            if fut not in done:
                fut.cancel()
        if stop in done:
            return 0
        stop.cancel()
        for fut in done:
            svc = watched[fut]
            exc = fut.exception()
            log.error(
                "service.failed",
                service=svc.name,
                error=str(exc) if exc else "stopped on its own",
                exc_info=exc,
            )
        return 1
