"""A runner rescues peers only once its own heartbeats have been steady for the
dead-after window (a stub jobs DB: pure)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from jobline.runner.heartbeat import HeartbeatService
from jobline.store import RescueParams, RunnerBeat


class StubJobsDB:
    url = "postgresql://u:secret@db/jobs"

    def __init__(self) -> None:
        self.failing = False
        self.rescues = 0

    async def heartbeat(self, beat: RunnerBeat) -> None:
        if self.failing:
            raise OSError("connection to postgresql://u:secret@db/jobs lost")

    async def rescue_dead_runners(self, params: RescueParams) -> list[Any]:
        self.rescues += 1
        return []

    async def remove_runner(self, runner_id: str) -> None:
        return None

    async def drain_requested(self, runner_id: str) -> bool:
        return False


async def _eventually(predicate: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.01)


async def test_no_rescue_until_beats_were_steady_for_the_dead_after_window() -> None:
    db = StubJobsDB()
    beat = HeartbeatService(
        db,  # type: ignore[arg-type]
        "r",
        ["runner"],
        interval_s=0.05,
        dead_after_s=0.4,
        max_attempts_of=lambda _t: 3,
    )
    started = time.monotonic()
    await beat.start()
    await _eventually(lambda: db.rescues >= 1)
    assert time.monotonic() - started >= 0.4  # not before a whole window of beats
    db.failing = True
    await _eventually(lambda: not beat.status().ready)
    assert not beat.steady
    assert "u:***@db" in beat.status().detail  # no password in /_ready
    failed_at, rescues = time.monotonic(), db.rescues
    db.failing = False
    await _eventually(lambda: db.rescues > rescues)
    assert time.monotonic() - failed_at >= 0.4  # steady again only after a whole window
    await beat.stop(1)
