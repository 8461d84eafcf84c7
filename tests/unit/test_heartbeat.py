"""A runner rescues peers only once its own heartbeats have been steady for the
dead-after window (a stub jobs DB: pure)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from jobline.runner.heartbeat import HeartbeatService


class StubJobsDB:
    url = "postgresql://u:secret@db/jobs"

    def __init__(self) -> None:
        self.failing = False
        self.rescues = 0

    async def heartbeat(self, runner_id: str, host: str, pid: int, caps: Sequence[str]) -> None:
        if self.failing:
            raise OSError("connection to postgresql://u:secret@db/jobs lost")

    async def rescue_dead_runners(self, dead_after_s: float, limit_of: Any) -> list[Any]:
        self.rescues += 1
        return []

    async def remove_runner(self, runner_id: str) -> None:
        return None


async def test_no_rescue_until_beats_were_steady_for_the_dead_after_window() -> None:
    db = StubJobsDB()
    beat = HeartbeatService(
        db,  # type: ignore[arg-type]
        "r",
        ["runner"],
        interval_s=0.02,
        dead_after_s=0.3,
        max_attempts_of=lambda _t: 3,
    )
    await beat.start()
    await asyncio.sleep(0.15)
    assert db.rescues == 0 and not beat.steady
    await asyncio.sleep(0.3)
    assert beat.steady and db.rescues >= 1
    db.failing = True
    await asyncio.sleep(0.2)
    assert not beat.steady
    status = beat.status()
    assert not status.ready and "u:***@db" in status.detail  # no password in /_ready
    rescues = db.rescues
    db.failing = False
    await asyncio.sleep(0.15)
    assert not beat.steady and db.rescues == rescues  # steady again only after the window
    await beat.stop(1)
