"""IntakeService: consume `jobs`, persist each batch with its offsets in one transaction."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from typing import TypeVar

import psycopg
import psycopg_pool
from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    TopicPartition,
)

from jobline.errors import ServiceFailed
from jobline.intake.batch import RawMessage, Rejected, SortedBatch, db_rejected, sort_batch
from jobline.intake.dlq import DeadLetterQueue, DlqUnavailable
from jobline.intake.kafka_checks import (
    KAFKA_CALL_TIMEOUT_S,
    HeldPartition,
    OffsetFix,
    missing_topics,
    offsets_ahead,
)
from jobline.logs import get_logger, kafka_logger
from jobline.metrics import (
    INTAKE_BATCH_SECONDS,
    INTAKE_BATCH_SPLITS,
    INTAKE_LAG,
    INTAKE_LAST_PERSISTED,
    INTAKE_MESSAGES,
)
from jobline.service import Service, ServiceStatus
from jobline.store import JobsDB
from jobline.store.jobs_db import OffsetRange
from jobline.store.rows import IntakeBatchResult, RefusedJob

log = get_logger("jobline.intake")
T = TypeVar("T")

# What makes the intake wait and retry (and give up after `give_up_after_s`). A value the
# jobs DB refuses never gets here: the store finds that job and it is dead-lettered.
_RETRIED = (psycopg.Error, psycopg_pool.PoolTimeout, OSError, TimeoutError, DlqUnavailable)


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
    #: statement_timeout of each statement of a batch's transaction
    db_timeout_s: float = 30.0
    #: how often missing topics and held partitions are checked again
    recheck_s: float = 5.0

    @property
    def dlq_deadline_s(self) -> float:
        """The longest one DLQ write may take (librdkafka's own timeout, plus a margin)."""
        return self.produce_timeout_s + 10.0

    @property
    def batch_deadline_s(self) -> float:
        """The longest one batch's write may take: its statements, and the DLQ write of
        the jobs the jobs DB refused (it happens before the commit)."""
        return 2 * self.db_timeout_s + self.dlq_deadline_s


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
        #: None: topics checked and present; else why not (or not checked yet)
        self._topics_trouble: str | None = "topics not checked yet"
        #: partitions not consumed until their stored offset is fixed (replaced, not mutated:
        #: the consumer's thread writes it, the HTTP handler reads it)
        self._held: dict[int, HeldPartition] = {}
        self._rechecked_at = 0.0
        self._fix = OffsetFix(jobs_db.schema, settings.group, settings.topic)

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
        # A missing topic is reported now, not at the first malformed message.
        await self._check_topics(self._consumer)
        self._consumer.subscribe([s.topic], on_assign=self._on_assign, on_revoke=self._on_revoke)
        log.info("intake.started", topic=s.topic, group=s.group, batch_size=s.batch_size)

    async def _close(self, grace_s: float) -> None:
        if self._consumer is not None:
            try:
                # Leaving the group hands the partitions on at once; never wait past the grace.
                await asyncio.wait_for(
                    asyncio.to_thread(self._consumer.close), timeout=max(grace_s, 1.0)
                )
            except TimeoutError:
                log.warning("intake.close_timed_out", grace_s=round(grace_s, 1))
        if self._dlq is not None:
            await asyncio.to_thread(self._dlq.close)
        log.info("intake.stopped")

    def status(self) -> ServiceStatus:
        problems = [p for p in (self._trouble, self._kafka_trouble, self._topics_trouble) if p]
        problems += [held.reason for held in self._held.values()]
        if problems:
            return ServiceStatus(False, "; ".join(problems))
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
            await asyncio.to_thread(consumer.list_topics, self._s.topic, KAFKA_CALL_TIMEOUT_S)
        except KafkaException:
            return
        log.info("intake.kafka_recovered")
        self._kafka_trouble = None

    async def _check_topics(self, consumer: Consumer) -> None:
        s = self._s
        try:
            problem = await asyncio.to_thread(
                missing_topics, consumer, s.kafka_hosts, s.topic, s.dlq_topic
            )
        except KafkaException as exc:
            log.warning("intake.topics_unchecked", error=str(exc))
            self._topics_trouble = f"topics {s.topic!r}, {s.dlq_topic!r} not checked: {exc}"
            return
        if problem is not None and problem != self._topics_trouble:
            log.error("intake.topic_missing", detail=problem)
        elif problem is None and self._topics_trouble is not None:
            log.info("intake.topics_found", topic=s.topic, dlq_topic=s.dlq_topic)
        self._topics_trouble = problem

    async def _recheck(self, consumer: Consumer) -> None:
        """Missing topics and held partitions, every `recheck_s`: fixed ones clear."""
        now = time.monotonic()
        if now - self._rechecked_at < self._s.recheck_s:
            return
        self._rechecked_at = now
        if self._topics_trouble is not None:
            await self._check_topics(consumer)
        if self._held:
            await self._recheck_held(consumer)

    async def _recheck_held(self, consumer: Consumer) -> None:
        s = self._s
        ids = sorted(self._held)
        try:
            stored = await asyncio.wait_for(
                self._db.load_offsets(s.group, s.topic, ids), timeout=s.db_timeout_s
            )
        except _RETRIED as exc:
            log.warning("intake.held_recheck_failed", partitions=ids, error=repr(exc))
            return
        still = await asyncio.to_thread(offsets_ahead, consumer, s.topic, stored, self._fix)
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

    def _hold(self, consumer: Consumer, held: list[HeldPartition]) -> None:
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
        stored = future.result(timeout=self._s.give_up_after_s + 60)
        held = offsets_ahead(consumer, self._s.topic, stored, self._fix)
        for p in partitions:
            if stored.get(p.partition, -1) >= 0:
                p.offset = stored[p.partition]
        consumer.assign(partitions)
        if held:
            self._hold(consumer, held)
        self._assigned.update(ids)
        log.info(
            "intake.assigned",
            partitions=ids,
            offsets={p: o for p, o in stored.items() if o >= 0},
            held=[h.partition for h in held],
        )

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        gone = {p.partition for p in partitions}
        self._assigned.difference_update(gone)
        self._held = {p: h for p, h in self._held.items() if p not in gone}
        consumer.unassign()
        log.info("intake.revoked", partitions=sorted(gone))

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
            await self._recheck(consumer)
            self._sample_lag(consumer)
            if raw:
                await self._handle(raw)

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
            if m.partition() in self._held:
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

    async def _handle(self, raw: list[RawMessage]) -> None:
        started = time.perf_counter()
        batch = sort_batch(raw, self._s.skip_configs)
        if batch.rejected:
            rejected = batch.rejected
            await self._with_retries("DLQ topic", lambda: self._send_to_dlq(rejected))
        by_position = {(m.partition, m.offset): m for m in raw}
        result = await self._with_retries("jobs DB", lambda: self._persist(batch, by_position))
        self._commit_to_kafka(batch)
        elapsed = time.perf_counter() - started
        self._count(batch, result, elapsed)

    def _count(self, batch: SortedBatch, result: IntakeBatchResult, elapsed: float) -> None:
        dlq = len(batch.rejected) + len(result.refused)
        INTAKE_BATCH_SECONDS.observe(elapsed)
        INTAKE_MESSAGES.labels("persisted").inc(result.persisted)
        INTAKE_MESSAGES.labels("duplicate").inc(result.duplicates)
        INTAKE_MESSAGES.labels("dlq").inc(dlq)
        INTAKE_MESSAGES.labels("skipped").inc(batch.skipped)
        INTAKE_BATCH_SPLITS.inc(result.splits)
        if result.persisted:
            INTAKE_LAST_PERSISTED.set_to_current_time()
        log.debug(
            "intake.batch_persisted",
            persisted=result.persisted,
            duplicates=result.duplicates,
            dlq=dlq,
            splits=result.splits,
            skipped=batch.skipped,
            ms=round(elapsed * 1000, 1),
        )

    async def _persist(
        self, batch: SortedBatch, by_position: dict[tuple[int, int], RawMessage]
    ) -> IntakeBatchResult:
        """One transaction: jobs, offsets, and (before the commit) the refused jobs' DLQ
        write; all within `batch_deadline_s`."""
        s = self._s

        async def dead_letter(refused: Sequence[RefusedJob]) -> None:
            await self._send_to_dlq(
                [
                    db_rejected(by_position[(r.partition, r.offset)], r.sqlstate, r.error)
                    for r in refused
                ]
            )

        ranges = [OffsetRange(r.partition, r.first_offset, r.next_offset) for r in batch.ranges]
        write = self._db.persist_intake_batch(
            s.group, s.topic, batch.entries, ranges, dead_letter, s.db_timeout_s
        )
        try:
            return await asyncio.wait_for(write, timeout=s.batch_deadline_s)
        except TimeoutError:
            raise TimeoutError(
                f"a batch's write took over {s.batch_deadline_s:g} s, its deadline "
                f"(2 x statement timeout {s.db_timeout_s:g} s + DLQ {s.dlq_deadline_s:g} s)"
            ) from None

    async def _send_to_dlq(self, rejected: Sequence[Rejected]) -> None:
        dlq = self._dlq
        assert dlq is not None
        try:
            await asyncio.wait_for(
                asyncio.to_thread(dlq.send, rejected), timeout=self._s.dlq_deadline_s
            )
        except TimeoutError:
            raise DlqUnavailable(
                f"topic {dlq.topic!r} did not acknowledge within {self._s.dlq_deadline_s:g} s"
            ) from None
        for item in rejected:
            log.warning(
                "intake.dead_lettered",
                reason=item.error.reason,
                partition=item.message.partition,
                offset=item.message.offset,
                sqlstate=item.sqlstate,
                error=item.error.detail,
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
            except _RETRIED as exc:
                now = time.monotonic()
                down_since = down_since or now
                # The DLQ write of refused jobs happens inside the jobs DB's transaction.
                what = "DLQ topic" if isinstance(exc, DlqUnavailable) else what
                error = str(exc).strip() or type(exc).__name__
                self._trouble = f"{what} failing: {error}"
                log.warning(
                    "intake.waiting",
                    dependency=what,
                    error=error,
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
