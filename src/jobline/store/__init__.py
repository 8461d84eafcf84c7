"""The jobs DB: the only place that speaks SQL to it. SQL lives in sql/ and migrations/."""

from jobline.store.jobs_db import JobsDB
from jobline.store.params import (
    IntakeBatchWrite,
    IntakeEntry,
    OffsetRange,
    RescueParams,
    RunnerBeat,
)
from jobline.store.rows import FailedAttempt, FetchedJob, Postponement, QueueCounts, RescuedJob

__all__ = [
    "FailedAttempt",
    "FetchedJob",
    "IntakeBatchWrite",
    "IntakeEntry",
    "JobsDB",
    "OffsetRange",
    "Postponement",
    "QueueCounts",
    "RescueParams",
    "RescuedJob",
    "RunnerBeat",
]
