"""The producer contract: both intakes take jobs the same way."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from jobline.job import JobMessage, encode_job
from jobline.metrics import JOBS_REFUSED


class JobProducer(Protocol):
    """Hands jobs to the intake; returns once the intake holds them durably.

    Raises JobTooLarge (before anything is sent) or IntakeUnavailable.
    """

    def send(self, jobs: Sequence[JobMessage]) -> None: ...

    async def send_async(self, jobs: Sequence[JobMessage]) -> None: ...

    def close(self) -> None: ...


def encode_all(jobs: Sequence[JobMessage], max_bytes: int) -> list[bytes]:
    """Encode every job before any is sent (a refused batch sends nothing); count refusals.

    Both intakes apply the same limit, so switching intakes never changes what passes.
    """
    try:
        return [encode_job(job, max_bytes) for job in jobs]
    except Exception as exc:
        JOBS_REFUSED.labels(getattr(exc, "reason", "invalid")).inc()
        raise
