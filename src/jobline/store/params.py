"""Typed values the store's operations take (in the style of River's `*Params`).

An operation that needs several values takes one of these rather than a row of positional
arguments, so a caller names what it passes and a new field cannot shift the others.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from jobline.job import JobMessage
from jobline.store.rows import RefusedJob

#: sends refused jobs to the DLQ; awaited inside the batch's transaction, before its commit
DeadLetter = Callable[[Sequence[RefusedJob]], Awaitable[None]]


class IntakeEntry(NamedTuple):
    """One message of an intake batch: where it was in Kafka, and its job (None: it went to
    the DLQ, but its offset still advances)."""

    partition: int
    offset: int
    job: JobMessage | None


class JobEntry(NamedTuple):
    """One message of an intake batch that has a job to write."""

    partition: int
    offset: int
    job: JobMessage


def split_replayed(
    entries: Sequence[IntakeEntry], stored: Mapping[int, int]
) -> tuple[list[JobEntry], int]:
    """The entries with a job to write, and how many jobs were persisted before: their
    offset is below the one stored for their partition (a replay after a crash or a
    rebalance), so they are not stored twice."""
    fresh: list[JobEntry] = []
    duplicates = 0
    for partition, offset, job in entries:
        if job is None:
            continue
        if offset >= stored.get(partition, -1):
            fresh.append(JobEntry(partition, offset, job))
        else:
            duplicates += 1
    return fresh, duplicates


@dataclass(frozen=True, slots=True)
class OffsetRange:
    """Where an intake batch starts and ends in one partition."""

    partition: int
    first_offset: int
    next_offset: int


@dataclass(frozen=True, slots=True)
class IntakeBatchWrite:
    """An intake batch to persist with its offsets in one transaction."""

    group: str
    topic: str
    entries: Sequence[IntakeEntry]
    ranges: Sequence[OffsetRange]
    #: where the jobs the jobs DB refuses go, before the commit (if it raises: no commit)
    dead_letter: DeadLetter
    #: statement_timeout of each statement of the batch's transaction
    statement_timeout_s: float


@dataclass(frozen=True, slots=True)
class RescueParams:
    """Which runners count as dead, and when a rescued job's attempts are used up."""

    dead_after_s: float
    #: attempts limit for jobs whose trigger set none: a number, or one per job type
    #: (its retry policy)
    default_max_attempts: int | Callable[[str], int] = 3

    def max_attempts_of(self, job_type: str) -> int:
        limit = self.default_max_attempts
        return limit(job_type) if callable(limit) else limit


@dataclass(frozen=True, slots=True)
class RunnerBeat:
    """A runner's heartbeat: who it is, where it runs, what it can do."""

    runner_id: str
    hostname: str
    pid: int
    capabilities: tuple[str, ...]
