"""Three `serve --mode scheduler` processes, real minutes: each minute fires exactly once.

Slow (about nine minutes): part of `make chaos`, not of `make test`. The 2-second cron
tests in test_scheduler.py check the same rules quickly.
"""

from __future__ import annotations

import itertools
import time
from datetime import timedelta

import psycopg
import pytest

from jobline.config import Settings

from .helpers import ServeProcess, add_config

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(900)]

TASK = "ticker/run_every_minute"


def _minute_ticks(settings: Settings) -> list[tuple[object, object]]:
    with psycopg.connect(settings.jobs_database_url) as conn:
        rows = conn.execute(
            f"SELECT tick_at, fired_at FROM {settings.schema_name}.scheduler_ticks "
            "WHERE task = %s ORDER BY tick_at",
            (TASK,),
        ).fetchall()
    return [(r[0], r[1]) for r in rows]


def _schedulers(env: dict[str, str], n: int) -> list[ServeProcess]:
    procs = [
        ServeProcess(
            {**env, "JOBLINE_PLUGINS": "tests.plugins.ticker:plugin", "JOBLINE_INTAKE": "direct"},
            "--mode",
            "scheduler",
        )
        for _ in range(n)
    ]
    for proc in procs:
        proc.wait_ready()
    return procs


def test_three_schedulers_fire_each_minute_once_and_no_burst_after_downtime(
    env: dict[str, str], settings: Settings
) -> None:
    add_config(env, plugin="ticker", team=1)
    procs = _schedulers(env, 3)
    try:
        time.sleep(5 * 60)
    finally:
        for proc in procs:
            assert proc.stop() == 0
    ticks = _minute_ticks(settings)
    assert len(ticks) in (5, 6), ticks
    gaps = {b[0] - a[0] for a, b in itertools.pairwise(ticks)}  # type: ignore[operator]
    assert gaps == {timedelta(minutes=1)}, "a minute was missed or fired twice"
    assert all(fired is not None for _, fired in ticks)

    time.sleep(3 * 60)  # every scheduler down for three minutes
    [proc] = _schedulers(env, 1)
    try:
        time.sleep(20)
    finally:
        assert proc.stop() == 0
    after = _minute_ticks(settings)[len(ticks) :]
    assert 1 <= len(after) <= 2, f"a burst of missed ticks fired: {after}"
