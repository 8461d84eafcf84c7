"""The runner's local queue on the real jobs DB: fetch size apart from concurrency."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from jobline import JobMessage, Plugin
from jobline.config import Settings
from jobline.databases import jobs_db_for
from jobline.plugins.configs import ConfigCache, MainDB
from jobline.plugins.registry import PluginRegistry
from jobline.retry import RetryPolicy
from jobline.runner import RunnerService, RunnerSettings
from jobline.runner.policies import ExecutionPolicy
from jobline.store import FetchedJob, JobsDB


def count_fetches(db: JobsDB, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The limit of every fetch of `db` that brought jobs, as they happen."""
    limits: list[int] = []
    fetch_due = db.fetch_due

    async def counting_fetch_due(runner_id: str, limit: int) -> list[FetchedJob]:
        jobs = await fetch_due(runner_id, limit)
        if jobs:
            limits.append(limit)
        return jobs

    monkeypatch.setattr(db, "fetch_due", counting_fetch_due)
    return limits


async def test_a_runner_holds_concurrency_plus_prefetch_and_runs_only_concurrency(
    settings: Settings, jobs_db: JobsDB, main_db: MainDB, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = asyncio.Event()
    running, ran = 0, []
    most_running = 0

    async def hold(payload: dict[str, int], meta: object) -> None:
        nonlocal running, most_running
        running += 1
        most_running = max(most_running, running)
        await release.wait()
        running -= 1
        ran.append(payload["n"])

    config = await main_db.add_config("prefetch", team_id=1, settings={})
    db = jobs_db_for(settings)  # as a server builds it (through PgBouncer on that route)
    fetch_limits = count_fetches(db, monkeypatch)
    await db.open()
    await db.insert_jobs(
        [
            JobMessage.create(type="hold", payload={"n": n}, plugin_config_id=config.id, team_id=1)
            for n in range(40)
        ]
    )
    runner = RunnerService(
        db,
        "r1",
        PluginRegistry([Plugin(name="prefetch", jobs={"hold": hold})]),
        ConfigCache(main_db),
        cast(Any, None),  # no triggers from these handlers
        RunnerSettings(2, 0.2, ExecutionPolicy(30, RetryPolicy(), 60, 3600), 60, prefetch=10),
        beat_age_s=lambda: 0.0,
    )
    await runner.start()
    try:
        await asyncio.sleep(1.0)
        held = await jobs_db.queue_counts()
        release.set()
        for _ in range(100):
            if len(ran) == 40:
                break
            await asyncio.sleep(0.1)
    finally:
        await runner.stop(5)
        await db.close()
    assert held.running == 12, "concurrency 2 + prefetch 10 locked while handlers block"
    assert fetch_limits[0] == 12 and most_running == 2
    assert sorted(ran) == list(range(40))
    # Refills wait for a quarter of the room (3 here): no fetch of one job at a time.
    assert all(limit >= 3 for limit in fetch_limits), fetch_limits
