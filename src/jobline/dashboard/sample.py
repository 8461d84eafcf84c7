"""One sample of the whole pipeline: Kafka watermarks against the intake's stored offsets,
the jobs DB's gauges, live runners, and rates from the tables' activity counters."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime

from jobline.config import Settings
from jobline.dashboard.kafka import KafkaMarks
from jobline.store.admin_rows import RunnerRow
from jobline.store.dashboard_reads import DashboardReads, QueueGauges, StoredOffset, TableActivity

#: a partition with lag whose last persisted batch is older than this is shown as stuck
STUCK_AFTER_S = 60.0
#: rates are taken over this window of samples
RATE_WINDOW_S = 60.0
#: how much history the charts keep (the dashboard process's own memory)
HISTORY_S = 900.0


@dataclass(frozen=True)
class PartitionLag:
    partition: int
    low: int
    high: int
    stored: StoredOffset | None
    #: the intake group's member that holds the partition (client id and host), if any
    member: str | None = None

    @property
    def lag(self) -> int:
        """Messages on Kafka the jobs DB has not persisted yet."""
        if self.stored is None or self.stored.next_offset < 0:
            return self.high - self.low  # nothing persisted yet: all of it waits
        return max(0, self.high - self.stored.next_offset)

    def stuck(self, now: datetime) -> bool:
        if not self.lag:
            return False
        if self.stored is None:
            return True
        return (now - self.stored.updated_at).total_seconds() > STUCK_AFTER_S


@dataclass(frozen=True)
class Rates:
    """Per minute, over the last RATE_WINDOW_S of samples (None: not enough samples yet)."""

    persisted: float | None = None
    finished: float | None = None
    failed: float | None = None
    dead_lettered: float | None = None


@dataclass(frozen=True)
class PipelineSample:
    at: datetime
    gauges: QueueGauges | None = None
    runners: list[RunnerRow] = field(default_factory=list)
    partitions: list[PartitionLag] = field(default_factory=list)
    dlq_messages: int | None = None
    rates: Rates = Rates()
    history: list[tuple[float, Rates]] = field(default_factory=list)
    db_error: str | None = None
    kafka_error: str | None = None

    @property
    def lag(self) -> int:
        return sum(p.lag for p in self.partitions)

    @property
    def stuck(self) -> list[PartitionLag]:
        return [p for p in self.partitions if p.stuck(self.at)]

    def series(self, name: str) -> list[float]:
        """One rate over the kept history (0 where a sample had none), for the charts."""
        return [getattr(rates, name) or 0.0 for _at, rates in self.history]

    def live_runners(self, dead_after_s: float) -> list[RunnerRow]:
        return [r for r in self.runners if r.beat_age_s < dead_after_s]


@dataclass(frozen=True)
class _Point:
    at: float  # monotonic
    activity: TableActivity | None
    dlq_messages: int | None


def _per_minute(new: int | None, old: int | None, seconds: float) -> float | None:
    if new is None or old is None or seconds <= 0:
        return None
    return max(0, new - old) * 60.0 / seconds


class Sampler:
    def __init__(self, settings: Settings, kafka: KafkaMarks) -> None:
        self.settings = settings
        self.kafka = kafka
        self._points: deque[_Point] = deque()
        self._history: deque[tuple[float, Rates]] = deque()

    async def sample(
        self,
        reads: DashboardReads | None,
        runners: list[RunnerRow],
        db_error: str | None = None,
    ) -> PipelineSample:
        """A sample; with the jobs DB unreachable (`reads` None or failing) the Kafka half
        still shows, less the lag (it needs the offsets stored in the jobs DB)."""
        now = datetime.now(UTC)
        gauges = activity = stored = None
        if reads is not None:
            try:
                gauges = await reads.queue_gauges()
                activity = await reads.table_activity()
                s = self.settings
                offsets = await reads.intake_offsets(s.intake_group, s.jobs_topic)
                stored = {o.partition: o for o in offsets}
            except Exception as exc:  # shown on the page: the dashboard outlives an outage
                db_error = f"jobs DB: {exc}"
        partitions: list[PartitionLag] = []
        dlq_messages = kafka_error = None
        try:
            if stored is not None:
                partitions = await self._partitions(stored)
            dlq = await self.kafka.marks(self.settings.dlq_topic)
            dlq_messages = sum(high - low for low, high in dlq.values())
        except Exception as exc:
            kafka_error = f"Kafka: {exc}"
        rates = self._rates(_Point(time.monotonic(), activity, dlq_messages))
        return PipelineSample(
            now, gauges, runners, partitions, dlq_messages, rates, list(self._history),
            db_error, kafka_error,
        )  # fmt: skip

    async def _partitions(self, stored: dict[int, StoredOffset]) -> list[PartitionLag]:
        s = self.settings
        marks = await self.kafka.marks(s.jobs_topic)
        members = await self.kafka.members(s.intake_group, s.jobs_topic)
        return [
            PartitionLag(p, low, high, stored.get(p), members.get(p))
            for p, (low, high) in sorted(marks.items())
        ]

    def _rates(self, point: _Point) -> Rates:
        self._points.append(point)
        while self._points and point.at - self._points[0].at > RATE_WINDOW_S:
            self._points.popleft()
        first = self._points[0]
        seconds = point.at - first.at
        new, old = point.activity, first.activity

        def counter(name: str) -> float | None:
            if new is None or old is None:
                return None
            return _per_minute(getattr(new, name), getattr(old, name), seconds)

        rates = Rates(
            counter("jobs_inserted"),
            counter("jobs_deleted"),
            counter("failed_inserted"),
            _per_minute(point.dlq_messages, first.dlq_messages, seconds),
        )
        self._history.append((point.at, rates))
        while point.at - self._history[0][0] > HISTORY_S:
            self._history.popleft()
        return rates
