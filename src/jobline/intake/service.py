"""IntakeService: consume `jobs`, persist each batch with its offsets in one transaction."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import psycopg
import psycopg_pool
from confluent_kafka import Consumer, KafkaException, Message, TopicPartition

from jobline.errors import ServiceFailed
from jobline.intake.accounting import record_batch
from jobline.intake.batch import RawMessage, Rejected, SortedBatch, db_rejected, sort_batch
from jobline.intake.dlq import DeadLetterQueue, DlqUnavailable
from jobline.intake.kafka_checks import OffsetFix, topic_max_message_bytes
from jobline.intake.kafka_watch import KafkaWatch
from jobline.intake.settings import IntakeSettings
from jobline.kafka_client import kafka_client_config
from jobline.logs import get_logger, kafka_logger
from jobline.metrics import note_persisted_messages
from jobline.service import Service, ServiceStatus
from jobline.store import JobsDB
from jobline.store.admin import SkipList
from jobline.store.params import DeadLetter, IntakeBatchWrite, IntakeEntry, OffsetRange
from jobline.store.refusals import is_connection_error
from jobline.store.rows import IntakeBatchResult, RefusedJob

log = get_logger("jobline.intake")
T = TypeVar("T")

# What makes the intake wait and retry (and give up after `give_up_after_s`). A value the
# jobs DB refuses never gets here: the store finds that job and it is dead-lettered.
_RETRIED = (psycopg.Error, psycopg_pool.PoolTimeout, OSError, TimeoutError, DlqUnavailable)


def store_write(batch: SortedBatch, s: IntakeSettings, dead_letter: DeadLetter) -> IntakeBatchWrite:
    """What the store persists of a sorted batch: its entries and offsets, in one go."""
    return IntakeBatchWrite(
        s.group,
        s.topic,
        [IntakeEntry(*e) for e in batch.entries],
        [OffsetRange(r.partition, r.first_offset, r.next_offset) for r in batch.ranges],
        dead_letter,
        s.db_timeout_s,
    )


def next_batch(consumer: Consumer, batch_size: int, wait_s: float) -> list[Message]:
    """Wait up to `wait_s` for one message, then take what has already arrived (up to
    `batch_size`) without waiting: a light trickle of triggers is persisted at once instead
    of waiting for a batch to fill, and under load the batches are full anyway."""
    first: list[Message] = consumer.consume(1, wait_s)
    if not first or batch_size <= 1:
        return first
    return first + consumer.consume(batch_size - 1, 0)


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
        #: why the jobs DB or the DLQ is failing, while the batch loop waits on it
        self._trouble: str | None = None
        fix = OffsetFix(jobs_db.schema, settings.group, settings.topic)
        self._kafka = KafkaWatch(settings, fix, self._load_offsets, self._fit_dlq_limit)
        self._skips = SkipList(jobs_db, settings.skip_configs)  # env + `jobline configs skip`

    # --- lifecycle -----------------------------------------------------------------------

    async def _open(self) -> None:
        self._loop = asyncio.get_running_loop()
        s = self._s
        self._consumer = Consumer(
            {
                **s.consumer_config(),
                "error_cb": self._kafka.on_kafka_error,
                **kafka_client_config(),
            },
            logger=kafka_logger(),
        )
        self._dlq = DeadLetterQueue(
            s.kafka_hosts, s.dlq_topic, s.max_message_bytes, s.produce_timeout_s
        )
        # A missing topic is reported now, not at the first malformed message.
        await self._kafka.check_topics(self._consumer)
        self._consumer.subscribe([s.topic], on_assign=self._on_assign, on_revoke=self._on_revoke)
        log.info("intake.started", topic=s.topic, group=s.group, batch_size=s.batch_size)

    async def _fit_dlq_limit(self) -> None:
        dlq = self._dlq
        assert dlq is not None
        try:
            limit = await asyncio.to_thread(topic_max_message_bytes, self._s.kafka_hosts, dlq.topic)
        except Exception as exc:  # the default limit stays; Kafka's trouble shows elsewhere
            log.warning("intake.dlq_limit_unknown", topic=dlq.topic, error=repr(exc))
            return
        dlq.fit_topic(limit)

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
        problems = ([self._trouble] if self._trouble else []) + self._kafka.problems()
        if problems:
            return ServiceStatus(False, "; ".join(problems))
        return ServiceStatus(True, f"assigned partitions {sorted(self._assigned)}")

    # --- partition assignment (runs on the consumer's thread, inside consume()) ----------

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        assert self._loop is not None
        ids = [p.partition for p in partitions]
        future = asyncio.run_coroutine_threadsafe(self._stored_offsets(ids), self._loop)
        stored = future.result(timeout=self._s.give_up_after_s + 60)
        for p in partitions:
            if stored.get(p.partition, -1) >= 0:
                p.offset = stored[p.partition]
        consumer.assign(partitions)
        # Whatever librdkafka fetches for a held partition before the pause is dropped by
        # KafkaWatch.readable and read again from the fixed offset.
        held = self._kafka.hold_if_ahead(consumer, stored)
        self._assigned.update(ids)
        log.info(
            "intake.assigned",
            partitions=ids,
            offsets={p: o for p, o in stored.items() if o >= 0},
            held=held,
        )

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        gone = {p.partition for p in partitions}
        self._assigned.difference_update(gone)
        self._kafka.forget(gone)
        consumer.unassign()
        log.info("intake.revoked", partitions=sorted(gone))

    async def _stored_offsets(self, partitions: list[int]) -> dict[int, int]:
        async def load() -> dict[int, int]:
            await asyncio.wait_for(
                self._db.ensure_offsets(self._s.group, self._s.topic, partitions),
                timeout=self._s.db_timeout_s,
            )
            return await self._load_offsets(partitions)

        return await self._with_retries("jobs DB", load)

    async def _load_offsets(self, partitions: Sequence[int]) -> dict[int, int]:
        return await asyncio.wait_for(
            self._db.load_offsets(self._s.group, self._s.topic, partitions),
            timeout=self._s.db_timeout_s,
        )

    # --- the loop ------------------------------------------------------------------------

    async def _main(self) -> None:
        assert self._consumer is not None
        consumer = self._consumer
        while not self.stopping:
            messages: list[Message] = await asyncio.to_thread(
                next_batch, consumer, self._s.batch_size, self._s.batch_ms / 1000
            )
            raw = self._kafka.readable(messages)
            await self._kafka.recheck(consumer)
            self._kafka.sample_lag(consumer, self._assigned)
            if raw:
                await self._handle(raw)
                note_persisted_messages(messages)

    async def _handle(self, raw: list[RawMessage]) -> None:
        started = time.perf_counter()
        batch = sort_batch(raw, await self._skips.current())
        if batch.rejected:
            rejected = batch.rejected
            await self._with_retries("DLQ topic", lambda: self._send_to_dlq(rejected))
        by_position = {(m.partition, m.offset): m for m in raw}
        result = await self._with_retries("jobs DB", lambda: self._persist(batch, by_position))
        self._commit_to_kafka(batch)
        elapsed = time.perf_counter() - started
        record_batch(batch, result, elapsed)

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

        write = self._db.persist_intake_batch(store_write(batch, s, dead_letter))
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
                down_since = down_since or time.monotonic()
                self._report_waiting(what, exc, down_since)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            if down_since is not None:
                log.info("intake.recovered", dependency=what)
            self._trouble = None
            return value

    def _report_waiting(self, what: str, exc: BaseException, down_since: float) -> None:
        """Readiness and the log say what is failing; past the limit, give up."""
        # The DLQ write of refused jobs happens inside the jobs DB's transaction.
        what = "DLQ topic" if isinstance(exc, DlqUnavailable) else what
        state = "unreachable" if is_connection_error(exc) else "failing"
        error = str(exc).strip() or type(exc).__name__
        down_s = time.monotonic() - down_since
        self._trouble = f"{what} {state}: {error}"
        log.warning(
            "intake.waiting", dependency=what, state=state, error=error, down_s=round(down_s, 1)
        )
        if down_s > self._s.give_up_after_s:
            raise ServiceFailed(
                f"intake: the {what} kept failing for {down_s:.0f} s "
                f"(limit JOBLINE_INTAKE_DB_DOWN_EXIT_S={self._s.give_up_after_s:g}): "
                f"{error}; nothing was skipped or committed past it. Exiting so the "
                "orchestrator restarts this process; check the jobs DB / Kafka"
            ) from exc
        if self.stopping:
            raise ServiceFailed(f"intake stopped while the {what} was failing") from exc
