"""IntakeService: consume `jobs`, persist each batch with its offsets in one transaction."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import TypeVar

import psycopg
import psycopg_pool
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from jobline.errors import ServiceFailed
from jobline.intake.batch import RawMessage, SortedBatch, sort_batch
from jobline.intake.dlq import DeadLetterQueue, DlqUnavailable
from jobline.logs import get_logger, kafka_logger
from jobline.metrics import (
    INTAKE_BATCH_SECONDS,
    INTAKE_LAG,
    INTAKE_LAST_PERSISTED,
    INTAKE_MESSAGES,
    INTAKE_SKIPPED,
    note_persisted_messages,
)
from jobline.service import Service, ServiceStatus
from jobline.store import JobsDB

log = get_logger("jobline.intake")
T = TypeVar("T")

_DB_ERRORS = (psycopg.Error, psycopg_pool.PoolTimeout, OSError)


@dataclass(frozen=True)
class IntakeSettings:
    kafka_hosts: str
    topic: str
    dlq_topic: str
    group: str
    batch_size: int
    batch_ms: int
    max_message_bytes: int
    produce_timeout_s: float
    #: how long the jobs DB (or the DLQ) may stay down before the process gives up
    give_up_after_s: float
    skip_configs: Collection[int] = ()
    #: how soon the group notices a dead intake (SIGKILL) and hands its partitions on
    session_timeout_s: float = 10.0


class IntakeService(Service):
    name = "intake"

    def __init__(self, jobs_db: JobsDB, settings: IntakeSettings) -> None:
        super().__init__()
        self._db = jobs_db
        self._s = settings
        self._consumer: Consumer | None = None
        self._dlq: DeadLetterQueue | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._assigned: set[int] = set()
        self._trouble: str | None = None
        self._kafka_trouble: str | None = None
        self._kafka_checked_at = 0.0
        self._lag_sampled_at = 0.0

    # --- lifecycle -----------------------------------------------------------------------

    async def _open(self) -> None:
        self._loop = asyncio.get_running_loop()
        s = self._s
        self._consumer = Consumer(
            {
                "bootstrap.servers": s.kafka_hosts,
                "group.id": s.group,
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "auto.offset.reset": "earliest",
                # Waiting out a jobs DB outage is not a reason to be evicted from the group.
                "max.poll.interval.ms": int(max(300.0, s.give_up_after_s + 60.0) * 1000),
                "fetch.max.bytes": 64 * 1024 * 1024,
                "session.timeout.ms": int(s.session_timeout_s * 1000),
                "heartbeat.interval.ms": int(min(3.0, s.session_timeout_s / 3) * 1000),
                "client.id": "jobline-intake",
                "error_cb": self._on_kafka_error,
            },
            logger=kafka_logger(),
        )
        self._dlq = DeadLetterQueue(
            s.kafka_hosts, s.dlq_topic, s.max_message_bytes, s.produce_timeout_s
        )
        self._consumer.subscribe([s.topic], on_assign=self._on_assign, on_revoke=self._on_revoke)
        log.info("intake.started", topic=s.topic, group=s.group, batch_size=s.batch_size)

    async def _close(self, grace_s: float) -> None:
        if self._consumer is not None:
            await asyncio.to_thread(self._consumer.close)
        if self._dlq is not None:
            await asyncio.to_thread(self._dlq.close)
        log.info("intake.stopped")

    def status(self) -> ServiceStatus:
        if self._trouble or self._kafka_trouble:
            return ServiceStatus(False, self._trouble or self._kafka_trouble or "")
        return ServiceStatus(True, f"assigned partitions {sorted(self._assigned)}")

    def _on_kafka_error(self, err: KafkaError) -> None:
        # librdkafka retries by itself; readiness reports it until Kafka answers again.
        if err.code() in (KafkaError._ALL_BROKERS_DOWN, KafkaError._TRANSPORT, KafkaError._RESOLVE):
            self._kafka_trouble = f"Kafka at {self._s.kafka_hosts} unreachable: {err.str()}"
        log.warning("intake.kafka_error", error=err.str(), code=err.name())

    async def _recheck_kafka(self, consumer: Consumer) -> None:
        now = time.monotonic()
        if self._kafka_trouble is None or now - self._kafka_checked_at < 5.0:
            return
        self._kafka_checked_at = now
        try:
            await asyncio.to_thread(consumer.list_topics, self._s.topic, 5.0)
        except KafkaException:
            return
        log.info("intake.kafka_recovered")
        self._kafka_trouble = None

    def _sample_lag(self, consumer: Consumer) -> None:
        # Positions and cached watermarks are local to librdkafka: no request to Kafka.
        now = time.monotonic()
        if now - self._lag_sampled_at < 10.0:
            return
        self._lag_sampled_at = now
        lag = 0
        partitions = [TopicPartition(self._s.topic, p) for p in sorted(self._assigned)]
        for tp in consumer.position(partitions) if partitions else []:
            _low, high = consumer.get_watermark_offsets(tp, cached=True) or (-1, -1)
            if tp.offset >= 0 and high >= 0:
                lag += max(0, high - tp.offset)
        INTAKE_LAG.set(lag)

    # --- partition assignment (runs on the consumer's thread, inside consume()) ----------

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        assert self._loop is not None
        ids = [p.partition for p in partitions]
        future = asyncio.run_coroutine_threadsafe(self._stored_offsets(ids), self._loop)
        stored = future.result()
        for p in partitions:
            if stored.get(p.partition, -1) >= 0:
                p.offset = stored[p.partition]
        consumer.assign(partitions)
        self._assigned.update(ids)
        log.info(
            "intake.assigned", partitions=ids, offsets={p: o for p, o in stored.items() if o >= 0}
        )

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._assigned.difference_update(p.partition for p in partitions)
        consumer.unassign()
        log.info("intake.revoked", partitions=[p.partition for p in partitions])

    async def _stored_offsets(self, partitions: list[int]) -> dict[int, int]:
        async def load() -> dict[int, int]:
            await self._db.ensure_offsets(self._s.group, self._s.topic, partitions)
            return await self._db.load_offsets(self._s.group, self._s.topic, partitions)

        return await self._with_retries("jobs DB", load)

    # --- the loop ------------------------------------------------------------------------

    async def _main(self) -> None:
        assert self._consumer is not None
        consumer = self._consumer
        while not self.stopping:
            messages: list[Message] = await asyncio.to_thread(
                consumer.consume, self._s.batch_size, self._s.batch_ms / 1000
            )
            raw = self._raw_messages(messages)
            await self._recheck_kafka(consumer)
            self._sample_lag(consumer)
            if raw:
                await self._handle(raw)
                note_persisted_messages(messages)

    def _raw_messages(self, messages: list[Message]) -> list[RawMessage]:
        raw: list[RawMessage] = []
        for m in messages:
            err = m.error()
            if err is not None:
                if err.fatal():
                    raise KafkaException(err)
                if err.code() != KafkaError._PARTITION_EOF:
                    log.warning("intake.consumer_error", error=str(err))
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

    async def _handle(self, raw: list[RawMessage]) -> None:
        started = time.perf_counter()
        batch = sort_batch(raw, self._s.skip_configs)
        if batch.rejected:
            dlq, rejected = self._dlq, batch.rejected
            assert dlq is not None
            await self._with_retries("DLQ topic", lambda: asyncio.to_thread(dlq.send, rejected))
            for item in batch.rejected:
                log.warning(
                    "intake.dead_lettered",
                    reason=item.error.reason,
                    partition=item.message.partition,
                    offset=item.message.offset,
                    error=item.error.detail,
                )
        result = await self._with_retries(
            "jobs DB",
            lambda: self._db.persist_intake_batch(
                self._s.group, self._s.topic, batch.entries, batch.ranges
            ),
        )
        self._commit_to_kafka(batch)
        elapsed = time.perf_counter() - started
        INTAKE_BATCH_SECONDS.observe(elapsed)
        INTAKE_MESSAGES.labels("persisted").inc(result.persisted)
        INTAKE_MESSAGES.labels("duplicate").inc(result.duplicates)
        INTAKE_MESSAGES.labels("dlq").inc(len(batch.rejected))
        INTAKE_MESSAGES.labels("skipped").inc(batch.skipped)
        INTAKE_SKIPPED.labels("skip_list").inc(batch.skipped)
        if result.persisted:
            INTAKE_LAST_PERSISTED.set_to_current_time()
        log.debug(
            "intake.batch_persisted",
            persisted=result.persisted,
            duplicates=result.duplicates,
            dlq=len(batch.rejected),
            skipped=batch.skipped,
            ms=round(elapsed * 1000, 1),
        )

    def _commit_to_kafka(self, batch: SortedBatch) -> None:
        # The jobs DB holds the truth; this commit only keeps Kafka's lag tools right.
        assert self._consumer is not None
        offsets = [
            TopicPartition(self._s.topic, r.partition, r.next_offset)
            for r in batch.ranges
            if r.partition in self._assigned
        ]
        if not offsets:
            return
        try:
            self._consumer.commit(offsets=offsets, asynchronous=True)
        except KafkaException as exc:
            log.warning("intake.kafka_commit_failed", error=str(exc))

    async def _with_retries(self, what: str, attempt: Callable[[], Awaitable[T]]) -> T:
        """Retry `attempt` with capped backoff; give up (fatal) after `give_up_after_s`."""
        delay = 0.2
        down_since: float | None = None
        while True:
            try:
                value = await attempt()
            except (*_DB_ERRORS, DlqUnavailable) as exc:
                now = time.monotonic()
                down_since = down_since or now
                self._trouble = f"{what} failing: {exc}"
                log.warning(
                    "intake.waiting",
                    dependency=what,
                    error=str(exc).strip(),
                    down_s=round(now - down_since, 1),
                )
                if now - down_since > self._s.give_up_after_s:
                    raise ServiceFailed(
                        f"intake: the {what} kept failing for {now - down_since:.0f} s "
                        f"(limit JOBLINE_INTAKE_DB_DOWN_EXIT_S={self._s.give_up_after_s:g}): "
                        f"{exc}; nothing was skipped or committed past it. Exiting so the "
                        "orchestrator restarts this process; check the jobs DB / Kafka"
                    ) from exc
                if self.stopping:
                    raise ServiceFailed(f"intake stopped while the {what} was failing") from exc
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            if down_since is not None:
                log.info("intake.recovered", dependency=what)
            self._trouble = None
            return value


def _as_bytes(value: str | bytes | None) -> bytes | None:
    return value.encode() if isinstance(value, str) else value
