"""What is wrong on the intake's Kafka side, as readiness tells it, and the checks that
clear it: Kafka unreachable, a topic missing, partitions held because their stored offset
is ahead of the topic. Each problem clears by itself once the cause is fixed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    TopicPartition,
)

from jobline.intake.batch import RawMessage
from jobline.intake.kafka_checks import (
    HeldPartition,
    OffsetFix,
    missing_topics,
    offsets_ahead,
)
from jobline.intake.settings import IntakeSettings
from jobline.logs import get_logger
from jobline.metrics import INTAKE_LAG

log = get_logger("jobline.intake")

#: the jobs DB's stored next offsets of some partitions
LoadOffsets = Callable[[Sequence[int]], Awaitable[dict[int, int]]]


class KafkaWatch:
    def __init__(
        self,
        settings: IntakeSettings,
        fix: OffsetFix,
        load: LoadOffsets,
        on_topics_found: Callable[[], Awaitable[None]],
    ) -> None:
        self._s = settings
        self._fix = fix
        self._load = load
        self._on_topics_found = on_topics_found
        self._kafka_trouble: str | None = None
        #: None: topics checked and present; else why not (or not checked yet)
        self._topics_trouble: str | None = "topics not checked yet"
        #: partitions not consumed until their stored offset is fixed. Replaced, never
        #: mutated: the consumer's thread writes it, the HTTP handler reads it.
        self._held: dict[int, HeldPartition] = {}
        self._rechecked_at = 0.0
        self._lag_sampled_at = 0.0

    def problems(self) -> list[str]:
        problems = [p for p in (self._kafka_trouble, self._topics_trouble) if p]
        return problems + [held.reason for held in self._held.values()]

    def is_held(self, partition: int) -> bool:
        return partition in self._held

    def on_kafka_error(self, err: KafkaError) -> None:
        # librdkafka retries by itself; readiness reports it until Kafka answers again.
        if err.code() in (KafkaError._ALL_BROKERS_DOWN, KafkaError._TRANSPORT, KafkaError._RESOLVE):
            self._kafka_trouble = f"Kafka at {self._s.kafka_hosts} unreachable: {err.str()}"
        log.warning("intake.kafka_error", error=err.str(), code=err.name())

    async def check_topics(self, consumer: Consumer) -> None:
        """Are both topics there? Readiness says what is missing and how to create it."""
        s = self._s
        try:
            problem = await asyncio.to_thread(
                missing_topics, consumer, s.kafka_hosts, s.topic, s.dlq_topic
            )
        except KafkaException as exc:
            log.warning("intake.topics_unchecked", error=str(exc))
            self._topics_trouble = f"topics {s.topic!r}, {s.dlq_topic!r} not checked: {exc}"
            return
        if self._kafka_trouble is not None:
            log.info("intake.kafka_recovered")
            self._kafka_trouble = None
        if problem is not None and problem != self._topics_trouble:
            log.error("intake.topic_missing", detail=problem)
        elif problem is None and self._topics_trouble is not None:
            log.info("intake.topics_found", topic=s.topic, dlq_topic=s.dlq_topic)
        self._topics_trouble = problem
        if problem is None:
            await self._on_topics_found()

    async def recheck(self, consumer: Consumer) -> None:
        """Every `recheck_s`: Kafka and the topics while either is in trouble (one metadata
        call answers both), then the held partitions."""
        now = time.monotonic()
        if now - self._rechecked_at < self._s.recheck_s:
            return
        self._rechecked_at = now
        if self._kafka_trouble is not None or self._topics_trouble is not None:
            await self.check_topics(consumer)
        if self._held:
            await self._recheck_held(consumer)

    def readable(self, messages: list[Message]) -> list[RawMessage]:
        """The messages of a consume() to handle: no errors, none of a held partition."""
        raw: list[RawMessage] = []
        for m in messages:
            err = m.error()
            if err is not None:
                if err.fatal():
                    raise KafkaException(err)
                if err.code() != KafkaError._PARTITION_EOF:
                    log.warning("intake.consumer_error", error=str(err))
                continue
            if self.is_held(int(m.partition() or 0)):
                # Fetched before the pause took hold: read again from the fixed offset.
                continue
            raw.append(
                RawMessage(
                    str(m.topic()),
                    int(m.partition() or 0),
                    int(m.offset() or 0),
                    _as_bytes(m.key()),
                    _as_bytes(m.value()),
                )
            )
        return raw

    def sample_lag(self, consumer: Consumer, assigned: set[int]) -> None:
        # Positions and cached watermarks are local to librdkafka: no request to Kafka.
        now = time.monotonic()
        if now - self._lag_sampled_at < 10.0:
            return
        self._lag_sampled_at = now
        lag = 0
        partitions = [TopicPartition(self._s.topic, p) for p in sorted(assigned)]
        for tp in consumer.position(partitions) if partitions else []:
            _low, high = consumer.get_watermark_offsets(tp, cached=True) or (-1, -1)
            if tp.offset >= 0 and high >= 0:
                lag += max(0, high - tp.offset)
        INTAKE_LAG.set(lag)

    # --- held partitions -----------------------------------------------------------------

    def hold_if_ahead(self, consumer: Consumer, stored: Mapping[int, int]) -> list[int]:
        """Pause the just-assigned partitions whose stored offset is past the topic's end.

        Runs on the consumer's thread, in the assignment callback."""
        held = offsets_ahead(consumer, self._s.topic, stored, self._fix)
        if not held:
            return []
        consumer.pause([TopicPartition(self._s.topic, h.partition) for h in held])
        self._held = {**self._held, **{h.partition: h for h in held}}
        for h in held:
            log.error(
                "intake.offsets_ahead",
                topic=self._s.topic,
                partition=h.partition,
                stored=h.stored,
                high=h.high,
                detail=h.reason,
            )
        return [h.partition for h in held]

    def forget(self, partitions: set[int]) -> None:
        """Revoked partitions are someone else's to hold."""
        self._held = {p: h for p, h in self._held.items() if p not in partitions}

    async def _recheck_held(self, consumer: Consumer) -> None:
        ids = sorted(self._held)
        try:
            stored = await asyncio.wait_for(self._load(ids), timeout=self._s.db_timeout_s)
        except Exception as exc:  # the jobs DB's trouble is the batch loop's to report
            log.warning("intake.held_recheck_failed", partitions=ids, error=repr(exc))
            return
        still = await asyncio.to_thread(offsets_ahead, consumer, self._s.topic, stored, self._fix)
        still_ids = {h.partition for h in still}
        for partition in ids:
            if partition not in still_ids:
                self._release(consumer, partition, stored.get(partition, -1))
        self._held = {h.partition: h for h in still}

    def _release(self, consumer: Consumer, partition: int, offset: int) -> None:
        # Consume from the fixed offset (-1: nothing persisted, the partition's start).
        start = offset if offset >= 0 else OFFSET_BEGINNING
        consumer.seek(TopicPartition(self._s.topic, partition, start))
        consumer.resume([TopicPartition(self._s.topic, partition)])
        log.info(
            "intake.partition_released", topic=self._s.topic, partition=partition, offset=offset
        )


def _as_bytes(value: str | bytes | None) -> bytes | None:
    return value.encode() if isinstance(value, str) else value
