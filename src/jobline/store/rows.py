"""Plain values that go in and out of the jobs DB."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class FetchedJob:
    """A due job, locked by the runner that fetched it."""

    id: int
    type: str
    plugin_config_id: int
    team_id: int
    payload: Any
    run_at: datetime
    attempts: int
    max_attempts: int | None
    queue_name: str | None
    priority: int
    #: when a runner first could not run it (unknown config, plugin or type), if ever
    unrunnable_since: datetime | None = None


@dataclass(frozen=True, slots=True)
class FailedAttempt:
    """One failed run: its error and, for a retry, when to run it again."""

    job_id: int
    error: str
    retry_at: datetime | None  # None: permanently failed


@dataclass(frozen=True, slots=True)
class Postponement:
    """A job not run now, due again at `run_at` (not an attempt)."""

    job_id: int
    run_at: datetime
    unrunnable: bool  # True: this runner cannot run it (starts or keeps its give-up clock)


@dataclass(frozen=True, slots=True)
class RescuedJob:
    id: int
    type: str
    attempts: int
    max_attempts: int | None


@dataclass(frozen=True, slots=True)
class QueueCounts:
    due: int
    scheduled: int
    running: int
    failed: int
    oldest_due_age_s: float
    live_runners: int


@dataclass(frozen=True, slots=True)
class RefusedJob:
    """A message of an intake batch whose job the jobs DB refused to store."""

    partition: int
    offset: int
    #: PostgreSQL's error code, or "client" when psycopg refused the value before sending
    sqlstate: str
    error: str


@dataclass(frozen=True, slots=True)
class IntakeBatchResult:
    persisted: int
    duplicates: int
    #: jobs the jobs DB refused (dead-lettered before the commit), in batch order
    refused: tuple[RefusedJob, ...] = ()
    #: how many times the batch was split to find them
    splits: int = 0
