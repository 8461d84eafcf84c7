"""The scheduler on the real jobs DB: each tick fires once across schedulers, no bursts."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from jobline.config import IntakeKind, Settings
from jobline.metrics import SCHEDULER_TICKS
from jobline.plugins.configs import MainDB
from jobline.plugins.registry import PluginRegistry
from jobline.producer.direct import DirectJobProducer
from jobline.producer.factory import build_producer
from jobline.scheduler import SchedulerService, SchedulerSettings, plan_tasks
from jobline.store import JobsDB
from jobline.store.ticks import TickStore
from tests.integration.helpers import ServeProcess, wait_until
from tests.plugins import ticker

TASK = "ticker/every2s"


@pytest.fixture
async def producer(settings: Settings) -> AsyncIterator[DirectJobProducer]:
    """The direct intake's producer, set up from the settings as jobline builds it."""
    direct = build_producer(settings.model_copy(update={"intake": IntakeKind.DIRECT}))
    assert isinstance(direct, DirectJobProducer)
    yield direct
    direct.close()


def _scheduler(
    jobs_db: JobsDB, main_db: MainDB, producer: DirectJobProducer, name: str
) -> SchedulerService:
    tasks = [t for t in plan_tasks(PluginRegistry([ticker.plugin])) if t.key == TASK]
    return SchedulerService(
        TickStore(jobs_db), main_db, producer, tasks, SchedulerSettings(name, 0.1)
    )


async def _run_for(schedulers: list[SchedulerService], seconds: float) -> None:
    for scheduler in schedulers:
        await scheduler.start()
    await asyncio.sleep(seconds)
    for scheduler in schedulers:
        await scheduler.stop(5)


def _ticks(settings: Settings) -> list[tuple[object, object, object]]:
    with psycopg.connect(settings.jobs_database_url) as conn:
        rows = conn.execute(
            f"SELECT tick_at, fired_at, jobs FROM {settings.schema_name}.scheduler_ticks "
            "WHERE task = %s ORDER BY tick_at",
            (TASK,),
        ).fetchall()
    return [(r[0], r[1], r[2]) for r in rows]


def _fired_count() -> float:
    return SCHEDULER_TICKS.labels("cron", "fired")._value.get()


async def test_three_schedulers_fire_every_tick_exactly_once(
    settings: Settings, jobs_db: JobsDB, main_db: MainDB, producer: DirectJobProducer
) -> None:
    await main_db.add_config("ticker", 1, {})
    await main_db.add_config("ticker", 2, {})
    fired_before = _fired_count()
    schedulers = [_scheduler(jobs_db, main_db, producer, f"s{i}") for i in range(3)]
    await _run_for(schedulers, 9.0)
    ticks = _ticks(settings)
    assert len(ticks) >= 4
    gaps = {b[0] - a[0] for a, b in itertools.pairwise(ticks)}  # type: ignore[operator]
    assert gaps == {timedelta(seconds=2)}, "a tick was missed"
    assert all(fired is not None and jobs == 2 for _, fired, jobs in ticks)
    # Fired once each: the three processes' fire count equals the number of ticks.
    assert _fired_count() - fired_before == len(ticks)


async def test_a_scheduler_back_from_downtime_fires_no_burst(
    settings: Settings, jobs_db: JobsDB, main_db: MainDB, producer: DirectJobProducer
) -> None:
    await main_db.add_config("ticker", 1, {})
    skipped = SCHEDULER_TICKS.labels("cron", "skipped_stale")
    skipped_before = skipped._value.get()
    await _run_for([_scheduler(jobs_db, main_db, producer, "first")], 3.0)
    before_downtime = _ticks(settings)
    await asyncio.sleep(7.0)  # every scheduler down: at least two ticks go by unfired
    back_at = datetime.now(UTC)
    await _run_for([_scheduler(jobs_db, main_db, producer, "second")], 2.5)
    fired_after = _ticks(settings)[len(before_downtime) :]
    # Back up: the tick current at restart and later ones fire, never the missed ones. The
    # bound is on the ticks' times, not their number: a loaded machine stretches the run.
    assert fired_after, "the scheduler back from downtime fired nothing"
    oldest_allowed = back_at - timedelta(seconds=2)
    assert all(tick_at >= oldest_allowed for tick_at, _, _ in fired_after), fired_after  # type: ignore[operator]
    assert skipped._value.get() - skipped_before >= 2


async def test_scheduled_tasks_run_and_a_slow_task_never_queues_twice(
    env: dict[str, str], runs_table: str, main_db: MainDB, settings: Settings
) -> None:
    config = await main_db.add_config("ticker", 1, {})
    server = ServeProcess(
        {**env, "JOBLINE_PLUGINS": "tests.plugins.ticker:plugin", "JOBLINE_INTAKE": "direct"},
        "--mode",
        "all",
    )
    try:
        server.wait_ready()
        queued_max = 0
        # One connection samples 40 times: directly, as psycopg prepares a repeated query.
        with psycopg.connect(settings.jobs_direct_url, autocommit=True) as conn:
            for _ in range(40):  # ~8 s of samples
                row = conn.execute(
                    f"SELECT count(*) FROM {settings.schema_name}.jobs "
                    "WHERE type = '@slow_every_second' AND locked_by IS NULL "
                    "AND plugin_config_id = %s",
                    (config.id,),
                ).fetchone()
                queued_max = max(queued_max, int(row[0]) if row else 0)
                await asyncio.sleep(0.2)
        assert queued_max <= 1

        def runs(job_type: str) -> int:
            with psycopg.connect(env["RECORDER_DATABASE_URL"]) as conn:
                row = conn.execute(
                    f"SELECT count(*) FROM {runs_table} WHERE job_type = %s", (job_type,)
                ).fetchone()
            return int(row[0]) if row else 0

        wait_until(lambda: runs("@every2s") >= 2, 10, "the 2 s task did not run")
        assert runs("@slow_every_second") >= 1
    finally:
        assert server.stop() == 0
