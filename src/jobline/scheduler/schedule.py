"""When a scheduled task is due: ticks of every minute / hour / day, or of a cron spec. Pure.

A tick is the instant a task is due. The scheduler only ever fires the latest tick that
is not in the future, and only while it is fresh: a scheduler that was down does not
catch up with a burst of missed ticks, it counts them as skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from croniter import croniter

# A cron spec's gap is looked up once; a spec whose ticks are further apart than this is
# still considered fresh for at most a day, like a day task.
_MAX_STALE = timedelta(days=1)
_CRON_GAP_LIMIT = 10_000


class Every(StrEnum):
    MINUTE = "minute"
    HOUR = "hour"
    DAY = "day"
    CRON = "cron"


_PERIODS = {
    Every.MINUTE: timedelta(minutes=1),
    Every.HOUR: timedelta(hours=1),
    Every.DAY: timedelta(days=1),
}


@dataclass(frozen=True)
class Schedule:
    """`Schedule(Every.MINUTE)` or `Schedule(Every.CRON, "*/5 * * * *")`.

    Cron specs have 5 fields, or 6 with seconds last (croniter's syntax).
    """

    every: Every
    cron: str | None = None

    def __post_init__(self) -> None:
        if self.every is Every.CRON:
            if not self.cron or not croniter.is_valid(self.cron):
                raise ValueError(
                    f"cron spec {self.cron!r} is not valid: use 5 fields (minute hour day "
                    "month weekday) or 6 with seconds last, e.g. '*/5 * * * *'"
                )
        elif self.cron is not None:
            raise ValueError(f"a schedule of every {self.every} takes no cron spec")

    @property
    def _spec(self) -> str:
        assert self.cron is not None  # checked at construction for cron schedules
        return self.cron

    def latest_tick(self, now: datetime) -> datetime:
        """The most recent tick at or before `now`."""
        now = now.astimezone(UTC)
        if self.every is Every.MINUTE:
            return now.replace(second=0, microsecond=0)
        if self.every is Every.HOUR:
            return now.replace(minute=0, second=0, microsecond=0)
        if self.every is Every.DAY:
            return now.replace(hour=0, minute=0, second=0, microsecond=0)
        # croniter's get_prev is strictly before its base: nudge the base past `now`.
        base = now + timedelta(microseconds=1)
        tick = croniter(self._spec, base).get_prev(datetime)
        return tick.astimezone(UTC).replace(microsecond=0)

    def next_tick(self, now: datetime) -> datetime:
        """The first tick strictly after `now`."""
        now = now.astimezone(UTC)
        if self.every is Every.CRON:
            tick = croniter(self._spec, now).get_next(datetime)
            return tick.astimezone(UTC)
        return self.latest_tick(now) + _PERIODS[self.every]

    def stale_after(self, tick: datetime) -> timedelta:
        """How long after `tick` firing it still makes sense (the gap to the next tick)."""
        if self.every is not Every.CRON:
            return _PERIODS[self.every]
        return min(self.next_tick(tick) - tick, _MAX_STALE)

    def ticks_between(self, after: datetime, before: datetime) -> int:
        """How many ticks fall strictly between two ticks (bounded for cron specs)."""
        if before <= after:
            return 0
        if self.every is not Every.CRON:
            return max(0, int((before - after) / _PERIODS[self.every]) - 1)
        it = croniter(self._spec, after.astimezone(UTC))
        count = 0
        while count < _CRON_GAP_LIMIT and it.get_next(datetime).astimezone(UTC) < before:
            count += 1
        return count
