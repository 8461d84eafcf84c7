"""Test plugin with scheduled tasks: every minute, a tick every 2 s, a slow one every second."""

from __future__ import annotations

import asyncio
from typing import Any

from jobline import JobMeta, Plugin
from jobline.plugins import CronTask
from tests.plugins.recorder import record


async def slow_tick(payload: Any, meta: JobMeta) -> None:
    await asyncio.sleep(3)
    await record(payload, meta)


plugin = Plugin(
    name="ticker",
    run_every_minute=record,
    cron={
        "every2s": CronTask("* * * * * */2", record),
        "slow_every_second": CronTask("* * * * * *", slow_tick),
    },
)
