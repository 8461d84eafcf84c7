"""One retry policy for jobs, one backoff for reconnect loops. Pure (no I/O but a sleep).

- `RetryPolicy`: how many times a job type may run and how long a failed run waits
  before the next (exponential, capped, jittered). The runner's outcome and the rescue
  of dead runners' jobs both ask it.
- `Backoff` + `sleep_or_stop`: the delay between attempts of a reconnect loop (LISTEN,
  fetch, heartbeat, completer, intake). Full jitter, so that after a failover the pods
  do not all reconnect on the same grid.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from dataclasses import dataclass
from enum import StrEnum

# 2^62 is far past any cap; the exponent is clamped so the float never overflows.
_MAX_EXPONENT = 62


class Jitter(StrEnum):
    #: uniform in [0, delay]: spreads retries most, but a retry may come at once
    FULL = "full"
    #: uniform in [delay/2, delay]: spread, and each retry still waits half its delay
    EQUAL = "equal"


def nominal_delay(attempts: int, base_s: float, cap_s: float) -> float:
    """base * 2^(attempts-1), capped: the delay before jitter (attempts >= 1)."""
    if attempts < 1:
        raise ValueError(f"attempts must be >= 1, got {attempts}")
    return min(cap_s, base_s * (2.0 ** min(attempts - 1, _MAX_EXPONENT)))


def jittered(delay: float, jitter: Jitter, rng: random.Random | None = None) -> float:
    draw = (rng or random).random()
    if jitter is Jitter.FULL:
        return draw * delay
    return delay / 2 + draw * delay / 2


def backoff_seconds(
    attempts: int, base_s: float, cap_s: float, rng: random.Random | None = None
) -> float:
    """Delay before the next run after `attempts` failed runs, with equal jitter."""
    return jittered(nominal_delay(attempts, base_s, cap_s), Jitter.EQUAL, rng)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Attempts limit and backoff of one job type."""

    max_attempts: int = 3
    base_s: float = 2.0
    cap_s: float = 3600.0
    jitter: Jitter = Jitter.EQUAL

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {self.max_attempts}")
        if not 0 < self.base_s <= self.cap_s:
            raise ValueError(
                f"backoff needs 0 < base_s <= cap_s, got base_s={self.base_s}, cap_s={self.cap_s}"
            )

    def limit(self, job_max_attempts: int | None) -> int:
        """A trigger's own max_attempts wins over the job type's."""
        return job_max_attempts or self.max_attempts

    def used_up(self, attempts: int, job_max_attempts: int | None = None) -> bool:
        """After `attempts` runs, may the job run again?"""
        return attempts >= self.limit(job_max_attempts)

    def delay_s(self, attempts: int, rng: random.Random | None = None) -> float:
        """How long to wait after the `attempts`-th failed run."""
        return jittered(nominal_delay(attempts, self.base_s, self.cap_s), self.jitter, rng)


def postpone_delay_s(
    waited_s: float, floor_s: float, cap_s: float, rng: random.Random | None = None
) -> float:
    """Delay for a job not runnable yet that has already waited `waited_s`.

    Waiting about as long again as it already waited doubles the total each time, so a
    job that an old runner cannot run comes back often at first and rarely later.
    """
    return jittered(min(cap_s, max(floor_s, waited_s)), Jitter.EQUAL, rng)


class Backoff:
    """Delays between attempts of a reconnect loop: exponential, capped, full jitter.

    `next()` after each failure; `reset()` after a success.
    """

    def __init__(self, base_s: float = 0.2, cap_s: float = 5.0, rng: random.Random | None = None):
        if not 0 < base_s <= cap_s:
            raise ValueError(f"Backoff needs 0 < base_s <= cap_s, got {base_s}, {cap_s}")
        self._base_s = base_s
        self._cap_s = cap_s
        self._rng = rng
        self.failures = 0

    def next(self) -> float:
        self.failures += 1
        nominal = nominal_delay(self.failures, self._base_s, self._cap_s)
        # Full jitter above a floor of base/2: no tight spin against a database that just
        # came back, and the pods' delays spread over the whole band.
        floor = self._base_s / 2
        return floor + jittered(nominal - floor, Jitter.FULL, self._rng)

    def reset(self) -> None:
        self.failures = 0


async def sleep_or_stop(seconds: float, stop: asyncio.Event) -> bool:
    """Sleep `seconds` unless `stop` is set first; True when stopped."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    return stop.is_set()
