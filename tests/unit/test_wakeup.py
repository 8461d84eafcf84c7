"""WakeUp: when the runner fetches again (timers only; no database)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from jobline.runner.wakeup import WakeUp


@pytest.fixture
async def wake() -> AsyncIterator[WakeUp]:
    w = WakeUp(object())  # type: ignore[arg-type]  # the DB is only used by listen_forever
    yield w
    if w._timer is not None:
        w._timer.cancel()


async def seconds_until_set(flag: asyncio.Event, timeout_s: float = 2.0) -> float:
    start = time.monotonic()
    await asyncio.wait_for(flag.wait(), timeout=timeout_s)
    return time.monotonic() - start


async def test_a_new_wakeup_has_its_flag_clear(wake: WakeUp) -> None:
    assert not wake.flag.is_set()
    assert not wake.listening


async def test_a_past_time_sets_the_flag_immediately(wake: WakeUp) -> None:
    wake.at_epoch(time.time() - 1)
    assert wake.flag.is_set()


async def test_a_time_shortly_ahead_sets_the_flag_after_that_delay(wake: WakeUp) -> None:
    wake.at_epoch(time.time() + 0.05)
    assert not wake.flag.is_set()
    elapsed = await seconds_until_set(wake.flag)
    assert 0.03 <= elapsed < 1.0


async def test_a_later_time_does_not_replace_an_earlier_planned_wakeup(wake: WakeUp) -> None:
    wake.at_epoch(time.time() + 0.05)
    wake.at_epoch(time.time() + 60)
    assert await seconds_until_set(wake.flag) < 1.0


async def test_an_earlier_time_replaces_a_later_planned_wakeup(wake: WakeUp) -> None:
    wake.at_epoch(time.time() + 60)
    wake.at_epoch(time.time() + 0.05)
    assert await seconds_until_set(wake.flag) < 1.0


async def test_a_fired_timer_lets_a_later_time_be_planned_again(wake: WakeUp) -> None:
    wake.at_epoch(time.time() + 0.02)
    await seconds_until_set(wake.flag)
    wake.flag.clear()
    wake.at_epoch(time.time() + 0.05)
    assert not wake.flag.is_set()
    assert await seconds_until_set(wake.flag) < 1.0


async def test_at_takes_a_datetime(wake: WakeUp) -> None:
    from datetime import UTC, datetime, timedelta

    wake.at(datetime.now(UTC) - timedelta(seconds=1))
    assert wake.flag.is_set()
