"""The producer contract: both intakes take jobs the same way."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from jobline.job import JobMessage


class JobProducer(Protocol):
    """Hands jobs to the intake; returns once the intake holds them durably.

    Raises JobTooLarge (before anything is sent) or IntakeUnavailable.
    """

    def send(self, jobs: Sequence[JobMessage]) -> None: ...

    async def send_async(self, jobs: Sequence[JobMessage]) -> None: ...

    def close(self) -> None: ...
