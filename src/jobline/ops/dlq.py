"""Read the DLQ topic without a consumer group: assign partitions, read between offsets.

Nothing is committed and no group joins, so reading the DLQ changes nothing a lag tool or
another reader sees.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from jobline.errors import DependencyUnreachable, NotFound
from jobline.logs import kafka_logger


@dataclass(frozen=True)
class DlqSelection:
    """Which DLQ messages to read; None means any."""

    reason: str | None = None
    partition: int | None = None
    offset: int | None = None  # exactly this offset (with partition)
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 100


@dataclass(frozen=True)
class DlqMessage:
    topic: str
    partition: int
    offset: int
    timestamp: datetime | None
    key: str | None
    value: str
    reason: str | None
    error: str | None
    source_topic: str | None
    source_partition: int | None
    source_offset: int | None
    replayed: bool = False


@dataclass(frozen=True)
class DlqStats:
    topic: str
    messages: int  # held by the topic (watermarks), whatever the selection
    by_partition: dict[int, int]
    scanned: int
    by_reason: dict[str, int] = field(default_factory=dict)
    oldest: datetime | None = None
    newest: datetime | None = None
    last_hour: int = 0


def _text(value: bytes | str | None) -> str | None:
    if value is None:
        return None
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _int(value: str | None) -> int | None:
    return int(value) if value is not None and value.lstrip("-").isdigit() else None


def to_dlq_message(m: Message) -> DlqMessage:
    raw = m.headers() or []
    pairs = list(raw.items()) if isinstance(raw, dict) else raw
    headers = {k: _text(v) for k, v in pairs}
    kind, ms = m.timestamp()
    return DlqMessage(
        topic=str(m.topic()),
        partition=int(m.partition() or 0),
        offset=int(m.offset() or 0),
        timestamp=datetime.fromtimestamp(ms / 1000, UTC) if kind and ms > 0 else None,
        key=_text(m.key()),
        value=_text(m.value()) or "",
        reason=headers.get("reason"),
        error=headers.get("error"),
        source_topic=headers.get("source_topic"),
        source_partition=_int(headers.get("source_partition")),
        source_offset=_int(headers.get("source_offset")),
    )


def _matches(msg: DlqMessage, sel: DlqSelection) -> bool:
    if sel.reason is not None and msg.reason != sel.reason:
        return False
    if sel.offset is not None and msg.offset != sel.offset:
        return False
    if sel.until is not None and msg.timestamp is not None and msg.timestamp > sel.until:
        return False
    return not (sel.since and msg.timestamp and msg.timestamp < sel.since)


class DlqReader:
    """One unsubscribed consumer; read() assigns, reads up to the high watermarks, stops."""

    def __init__(self, hosts: str, topic: str, timeout_s: float = 5.0) -> None:
        self.hosts = hosts
        self.topic = topic
        self.timeout_s = timeout_s
        self._consumer = Consumer(
            {
                "bootstrap.servers": hosts,
                # Required by librdkafka; never joined (no subscribe) and never committed.
                "group.id": f"jobline-dlq-reader-{uuid.uuid4().hex[:8]}",
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "enable.partition.eof": True,
                "auto.offset.reset": "earliest",
                "client.id": "jobline-dlq-reader",
            },
            logger=kafka_logger(),
        )

    def close(self) -> None:
        self._consumer.close()

    def __enter__(self) -> DlqReader:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _unreachable(self, exc: BaseException) -> DependencyUnreachable:
        return DependencyUnreachable(
            f"Kafka at {self.hosts} did not answer within {self.timeout_s:g} s: {exc}; check "
            "that Kafka runs there and that JOBLINE_KAFKA_HOSTS is right"
        )

    def partitions(self) -> list[int]:
        try:
            meta = self._consumer.list_topics(self.topic, self.timeout_s)
        except KafkaException as exc:
            raise self._unreachable(exc) from exc
        found = meta.topics.get(self.topic)
        if found is None or found.error is not None or not found.partitions:
            raise NotFound(
                f"DLQ topic {self.topic!r} does not exist on Kafka at {self.hosts}: nothing was "
                "dead-lettered yet, or JOBLINE_DLQ_TOPIC names another topic"
            )
        return sorted(found.partitions)

    def watermarks(self, partitions: list[int]) -> dict[int, tuple[int, int]]:
        marks: dict[int, tuple[int, int]] = {}
        for p in partitions:
            try:
                low, high = self._consumer.get_watermark_offsets(
                    TopicPartition(self.topic, p), self.timeout_s
                )
            except KafkaException as exc:
                raise self._unreachable(exc) from exc
            marks[p] = (int(low), int(high))
        return marks

    def _start_offsets(
        self, sel: DlqSelection, marks: dict[int, tuple[int, int]]
    ) -> dict[int, int]:
        starts = {p: low for p, (low, _high) in marks.items()}
        if sel.offset is not None:
            return {p: max(sel.offset, marks[p][0]) for p in starts}
        if sel.since is not None:
            ms = int(sel.since.timestamp() * 1000)
            asked = [TopicPartition(self.topic, p, ms) for p in starts]
            for tp in self._consumer.offsets_for_times(asked, self.timeout_s):
                starts[tp.partition] = tp.offset if tp.offset >= 0 else marks[tp.partition][1]
        return starts

    def read(self, sel: DlqSelection) -> list[DlqMessage]:
        """Messages matching `sel`, in partition then offset order, at most sel.limit."""
        partitions = self.partitions()
        if sel.partition is not None:
            if sel.partition not in partitions:
                raise NotFound(
                    f"DLQ topic {self.topic!r} has no partition {sel.partition} "
                    f"(it has {partitions})"
                )
            partitions = [sel.partition]
        marks = self.watermarks(partitions)
        starts = self._start_offsets(sel, marks)
        ends = {p: high for p, (_low, high) in marks.items()}
        if sel.offset is not None:
            ends = {p: min(high, sel.offset + 1) for p, high in ends.items()}
        todo = {p for p in partitions if starts[p] < ends[p]}
        return self._consume(sel, {p: starts[p] for p in todo}, ends)

    def _consume(
        self, sel: DlqSelection, starts: dict[int, int], ends: dict[int, int]
    ) -> list[DlqMessage]:
        if not starts:
            return []
        self._consumer.assign([TopicPartition(self.topic, p, o) for p, o in starts.items()])
        open_partitions = set(starts)
        found: list[DlqMessage] = []
        deadline = time.monotonic() + self.timeout_s
        while open_partitions and len(found) < sel.limit:
            if time.monotonic() > deadline:
                raise self._unreachable(TimeoutError("reading the DLQ stalled"))
            for m in self._consumer.consume(500, 0.5):
                err = m.error()
                if err is not None and err.code() != KafkaError._PARTITION_EOF:
                    raise self._unreachable(KafkaException(err))
                p = int(m.partition() or 0)
                if err is None and int(m.offset() or 0) < ends[p]:
                    msg = to_dlq_message(m)
                    if _matches(msg, sel) and len(found) < sel.limit:
                        found.append(msg)
                if err is not None or int(m.offset() or 0) + 1 >= ends[p]:
                    open_partitions.discard(p)
                deadline = time.monotonic() + self.timeout_s
        self._consumer.unassign()
        found.sort(key=lambda msg: (msg.partition, msg.offset))
        return found


def stats_of(
    topic: str, marks: dict[int, tuple[int, int]], scanned: list[DlqMessage], now: datetime
) -> DlqStats:
    stamps = [m.timestamp for m in scanned if m.timestamp is not None]
    return DlqStats(
        topic=topic,
        messages=sum(high - low for low, high in marks.values()),
        by_partition={p: high - low for p, (low, high) in marks.items()},
        scanned=len(scanned),
        by_reason=dict(Counter(m.reason or "unknown" for m in scanned).most_common()),
        oldest=min(stamps, default=None),
        newest=max(stamps, default=None),
        last_hour=sum(1 for t in stamps if (now - t).total_seconds() <= 3600),
    )
