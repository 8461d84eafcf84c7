"""Ticks of scheduled tasks: latest, next, staleness and gaps. Pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobline.scheduler.schedule import Every, Schedule

T = datetime(2026, 11, 30, 14, 37, 25, 123456, tzinfo=UTC)
instants = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


@pytest.mark.parametrize(
    ("every", "expected"),
    [
        (Every.MINUTE, datetime(2026, 11, 30, 14, 37, tzinfo=UTC)),
        (Every.HOUR, datetime(2026, 11, 30, 14, tzinfo=UTC)),
        (Every.DAY, datetime(2026, 11, 30, tzinfo=UTC)),
    ],
)
def test_latest_tick_floors_to_the_period(every: Every, expected: datetime) -> None:
    assert Schedule(every).latest_tick(T) == expected


def test_cron_latest_tick_includes_now_when_now_is_a_tick() -> None:
    schedule = Schedule(Every.CRON, "*/5 * * * *")
    on_tick = datetime(2026, 11, 30, 14, 35, tzinfo=UTC)
    assert schedule.latest_tick(on_tick) == on_tick
    assert schedule.latest_tick(T) == on_tick


def test_cron_with_seconds_field_ticks_every_two_seconds() -> None:
    schedule = Schedule(Every.CRON, "* * * * * */2")
    assert schedule.latest_tick(T) == datetime(2026, 11, 30, 14, 37, 24, tzinfo=UTC)
    assert schedule.next_tick(T) == datetime(2026, 11, 30, 14, 37, 26, tzinfo=UTC)
    assert schedule.stale_after(schedule.latest_tick(T)) == timedelta(seconds=2)


@given(instants, st.sampled_from([Every.MINUTE, Every.HOUR, Every.DAY]))
def test_latest_tick_is_never_in_the_future_and_within_one_period(
    now: datetime, every: Every
) -> None:
    schedule = Schedule(every)
    tick = schedule.latest_tick(now)
    assert tick <= now < schedule.next_tick(now)
    assert now - tick < schedule.stale_after(tick)


def test_ticks_between_counts_the_missed_ones() -> None:
    minute = Schedule(Every.MINUTE)
    start = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)
    assert minute.ticks_between(start, start + timedelta(minutes=1)) == 0
    assert minute.ticks_between(start, start + timedelta(minutes=4)) == 3
    cron = Schedule(Every.CRON, "*/15 * * * *")
    assert cron.ticks_between(start, start + timedelta(hours=1)) == 3


def test_an_invalid_cron_spec_is_refused_with_the_expected_form() -> None:
    with pytest.raises(ValueError, match="5 fields"):
        Schedule(Every.CRON, "every minute please")


def test_a_fixed_period_takes_no_cron_spec() -> None:
    with pytest.raises(ValueError, match="no cron spec"):
        Schedule(Every.MINUTE, "* * * * *")
