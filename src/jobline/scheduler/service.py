"""SchedulerService: fire plugins' scheduled tasks, each tick once across all schedulers.

Every scheduler process looks at the same clock; for each task's latest tick they all
try to claim the tick's row in the jobs DB and the one whose claim wins triggers the
jobs. No leader is elected, so none can be split-brained: the database's primary key
decides. A tick becomes one job per enabled plugin config of the task's plugin, keyed
by the task in `preserve` mode: while one run waits in the queue, later ticks add none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from jobline.job import JobMessage, KeyMode
from jobline.logs import get_logger
from jobline.metrics import SCHEDULER_JOBS_ENQUEUED, SCHEDULER_TICKS
from jobline.plugins.configs import MainDB
from jobline.plugins.plugin import Plugin, ScheduledTask
from jobline.plugins.registry import PluginRegistry
from jobline.producer.base import JobProducer
from jobline.scheduler.schedule import Every, Schedule
from jobline.service import Service, ServiceStatus
from jobline.store.ticks import TickClaim, TickStore

log = get_logger("jobline.scheduler")

# Triggers per producer call when a task fires for many plugin configs.
_SEND_CHUNK = 500


@dataclass(frozen=True)
class PlannedTask:
    """A plugin's scheduled task with its parsed schedule and its row key in the jobs DB."""

    plugin: Plugin
    task: ScheduledTask
    schedule: Schedule

    @property
    def key(self) -> str:
        return f"{self.plugin.name}/{self.task.name}"


def plan_tasks(registry: PluginRegistry) -> list[PlannedTask]:
    planned = []
    for name in registry.names():
        plugin = registry.get(name)
        assert plugin is not None
        for task in plugin.scheduled_tasks:
            planned.append(PlannedTask(plugin, task, Schedule(Every(task.every), task.cron)))
    return planned


@dataclass(frozen=True)
class SchedulerSettings:
    scheduler_id: str
    #: how often the clock is read; ticks fire within this of their time
    check_interval_s: float = 1.0


class SchedulerService(Service):
    name = "scheduler"

    def __init__(
        self,
        ticks: TickStore,
        main_db: MainDB,
        producer: JobProducer,
        tasks: Sequence[PlannedTask],
        settings: SchedulerSettings,
    ) -> None:
        super().__init__()
        self._ticks = ticks
        self._main_db = main_db
        self._producer = producer
        self._tasks = list(tasks)
        self._s = settings
        self._done: dict[str, datetime] = {}  # latest tick handled (fired or lost) per task
        self._last_error: str | None = None

    async def _open(self) -> None:
        log.info(
            "scheduler.started",
            scheduler_id=self._s.scheduler_id,
            tasks=[t.key for t in self._tasks],
        )

    async def _main(self) -> None:
        while not self.stopping:
            now = datetime.now(UTC)
            for planned in self._tasks:
                await self._handle_safely(planned, now)
            await self.sleep_unless_stopping(self._s.check_interval_s)

    async def _handle_safely(self, planned: PlannedTask, now: datetime) -> None:
        try:
            await self._handle(planned, now)
        except Exception as exc:
            # The tick stays unhandled: the next pass tries again while it is fresh.
            self._last_error = f"{planned.key}: {str(exc).strip()}"
            log.warning("scheduler.fire_failed", task=planned.key, error=str(exc).strip())
        else:
            self._last_error = None

    async def _handle(self, planned: PlannedTask, now: datetime) -> None:
        tick = planned.schedule.latest_tick(now)
        if self._done.get(planned.key) == tick:
            return
        if now - tick > planned.schedule.stale_after(tick):
            self._done[planned.key] = tick  # too late to fire; the next winner counts it
            return
        claim = TickClaim(planned.key, tick, self._s.scheduler_id)
        if not await self._ticks.claim(claim):
            self._done[planned.key] = tick  # another scheduler fired (or fires) it
            return
        jobs = await self._fire(planned, tick)
        await self._ticks.mark_fired(claim, jobs)
        self._done[planned.key] = tick
        await self._count_missed(planned, tick)
        log.info("scheduler.tick_fired", task=planned.key, tick=tick.isoformat(), jobs=jobs)

    async def _fire(self, planned: PlannedTask, tick: datetime) -> int:
        configs = await self._main_db.enabled_configs_of(planned.plugin.name)
        task = planned.task
        messages = [
            JobMessage.create(
                type=task.job_type,
                payload={"tick": tick.isoformat()},
                plugin_config_id=config.id,
                team_id=config.team_id,
                run_at=tick,
                key=task.job_type,
                key_mode=KeyMode.PRESERVE,
                max_attempts=task.definition.max_attempts,
            )
            for config in configs
        ]
        for start in range(0, len(messages), _SEND_CHUNK):
            await self._producer.send_async(messages[start : start + _SEND_CHUNK])
        SCHEDULER_TICKS.labels(task.every, "fired").inc()
        SCHEDULER_JOBS_ENQUEUED.labels(task.every).inc(len(messages))
        return len(messages)

    async def _count_missed(self, planned: PlannedTask, tick: datetime) -> None:
        # Only the tick's winner counts the gap before it, so schedulers never count twice.
        previous = await self._ticks.previous_tick(planned.key, tick)
        if previous is None:
            return
        missed = planned.schedule.ticks_between(previous, tick)
        if missed:
            SCHEDULER_TICKS.labels(planned.task.every, "skipped_stale").inc(missed)
            log.info("scheduler.ticks_skipped", task=planned.key, missed=missed)

    def status(self) -> ServiceStatus:
        if self._last_error:
            return ServiceStatus(False, f"firing failing: {self._last_error}")
        return ServiceStatus(True, f"{len(self._tasks)} scheduled tasks")
