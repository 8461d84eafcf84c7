"""What became of one run of a job; the completer writes these in batches."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Result(StrEnum):
    SUCCESS = "success"
    RETRY = "retry"
    FAILED = "failed"
    SKIPPED = "skipped"  # not run now (plugin config disabled): postponed
    RELEASED = "released"  # handed back unrun or unfinished (shutdown)


@dataclass(frozen=True, slots=True)
class Outcome:
    job_id: int
    result: Result
    error: str | None = None
    retry_at: datetime | None = None
