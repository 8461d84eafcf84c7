"""Sort one consumed batch into jobs, DLQ entries and skipped jobs. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from jobline.errors import InvalidJob
from jobline.job import JobMessage, decode_job


@dataclass(frozen=True)
class RawMessage:
    """What the intake needs of a Kafka message (kept free of confluent-kafka types)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


@dataclass(frozen=True)
class PartitionRange:
    """Where a batch starts and ends in one partition (the store has its own type: this
    module stays pure, see docs/architecture.md)."""

    partition: int
    first_offset: int
    next_offset: int


@dataclass(frozen=True)
class Rejected:
    """A message for the DLQ: why (`error.reason`, `error.detail`) and, when the jobs DB
    refused it, the PostgreSQL error code."""

    message: RawMessage
    error: InvalidJob
    sqlstate: str | None = None


#: the DLQ reason of a job the jobs DB refused to store (its own fault, not an outage)
DB_REJECTED = "db_rejected"


def db_rejected(message: RawMessage, sqlstate: str, error: str) -> Rejected:
    """The DLQ entry of a message whose job the jobs DB refused, in PostgreSQL's words."""
    detail = (
        f"the jobs DB refused to store this job: {error} (SQLSTATE {sqlstate}); "
        "fix the producer that sent it, then replay the message"
    )
    return Rejected(message, InvalidJob(DB_REJECTED, detail), sqlstate)


@dataclass
class SortedBatch:
    #: (partition, offset, job): job None when the message is not stored (DLQ or skipped)
    entries: list[tuple[int, int, JobMessage | None]] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    skipped: int = 0
    ranges: list[PartitionRange] = field(default_factory=list)


def sort_batch(messages: Iterable[RawMessage], skip_configs: Collection[int]) -> SortedBatch:
    batch = SortedBatch()
    bounds: dict[int, tuple[int, int]] = {}
    for msg in messages:
        first, last = bounds.get(msg.partition, (msg.offset, msg.offset))
        bounds[msg.partition] = (min(first, msg.offset), max(last, msg.offset))
        try:
            job = decode_job(msg.value)
        except InvalidJob as exc:
            batch.rejected.append(Rejected(msg, exc))
            batch.entries.append((msg.partition, msg.offset, None))
            continue
        if job.plugin_config_id in skip_configs:
            # An operator's skip list: counted, never stored, never a silent loss.
            batch.skipped += 1
            batch.entries.append((msg.partition, msg.offset, None))
            continue
        batch.entries.append((msg.partition, msg.offset, job))
    batch.ranges = [
        PartitionRange(partition=p, first_offset=first, next_offset=last + 1)
        for p, (first, last) in sorted(bounds.items())
    ]
    return batch
