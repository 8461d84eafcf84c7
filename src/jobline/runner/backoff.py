"""Retry backoff: exponential with a cap and full jitter. Pure."""

from __future__ import annotations

import random


def backoff_seconds(
    attempts: int, base_s: float, cap_s: float, rng: random.Random | None = None
) -> float:
    """Delay before the next run after `attempts` failed runs (attempts >= 1).

    The un-jittered delay is base * 2^(attempts-1), capped; the result is drawn from
    [delay/2, delay] so that many jobs failing together do not retry together, while
    each retry still waits at least half its nominal delay.
    """
    if attempts < 1:
        raise ValueError(f"attempts must be >= 1, got {attempts}")
    exponent = min(attempts - 1, 62)
    delay = min(cap_s, base_s * (2.0**exponent))
    draw = (rng or random).random()
    return delay / 2 + draw * delay / 2
