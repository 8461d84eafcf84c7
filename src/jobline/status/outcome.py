"""Outcome: what one probe found, or why it found nothing (error, timeout, not checked)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from jobline.status.deadline import ProbeTimeout

T = TypeVar("T")


@dataclass(frozen=True)
class Outcome(Generic[T]):
    value: T | None = None
    error: str | None = None
    timed_out: bool = False
    elapsed_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None

    def get(self) -> T:
        if self.value is None:
            raise ValueError(self.error or "no value")
        return self.value


def skipped(reason: str) -> Outcome[T]:
    return Outcome(error=f"not checked: {reason}")


async def attempt(run: Callable[[], Awaitable[T]]) -> Outcome[T]:
    """Await `run()` (which applies its own deadline) and keep the value or the error."""
    started = time.monotonic()
    try:
        value = await run()
    except ProbeTimeout as exc:
        return Outcome(error=str(exc), timed_out=True, elapsed_s=time.monotonic() - started)
    except Exception as exc:  # a probe's failure is a finding, never a crash
        message = " ".join(str(exc).split()) or type(exc).__name__
        return Outcome(error=message, elapsed_s=time.monotonic() - started)
    return Outcome(value=value, elapsed_s=time.monotonic() - started)
