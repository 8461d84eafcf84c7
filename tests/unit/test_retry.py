"""One retry policy for jobs, one backoff for reconnect loops (jobline.retry)."""

from __future__ import annotations

import asyncio
import random
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobline.retry import Backoff, Jitter, RetryPolicy, postpone_delay_s, sleep_or_stop


def test_a_triggers_max_attempts_wins_over_the_job_types() -> None:
    policy = RetryPolicy(max_attempts=3)
    assert policy.limit(None) == 3 and policy.limit(7) == 7
    assert not policy.used_up(2) and policy.used_up(3)
    assert not policy.used_up(3, job_max_attempts=5)


@given(st.integers(1, 200), st.integers(0, 2**32), st.sampled_from(list(Jitter)))
def test_a_retry_delay_lies_within_its_jitter_band_below_the_cap(
    attempts: int, seed: int, jitter: Jitter
) -> None:
    policy = RetryPolicy(base_s=2.0, cap_s=600.0, jitter=jitter)
    nominal = min(600.0, 2.0 * 2 ** (attempts - 1))
    low = 0.0 if jitter is Jitter.FULL else nominal / 2
    assert low <= policy.delay_s(attempts, random.Random(seed)) <= nominal


def test_a_policy_refuses_a_base_above_its_cap_and_no_attempts() -> None:
    with pytest.raises(ValueError, match="base_s"):
        RetryPolicy(base_s=10, cap_s=1)
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)


@given(st.integers(0, 2**32))
def test_reconnect_backoff_grows_to_its_cap_and_starts_over_after_reset(seed: int) -> None:
    backoff = Backoff(0.2, 5.0, random.Random(seed))
    delays = [backoff.next() for _ in range(20)]
    assert all(0.1 <= d <= 5.0 for d in delays)
    assert delays[0] <= 0.2  # first failure: at most the base
    backoff.reset()
    assert backoff.failures == 0 and backoff.next() <= 0.2


def test_reconnect_delays_of_many_pods_are_spread_not_on_one_grid() -> None:
    delays = {round(Backoff(1.0, 30.0, random.Random(pod)).next(), 3) for pod in range(50)}
    assert len(delays) > 40


@given(st.floats(0, 1e6), st.integers(0, 2**32))
def test_a_postponed_job_waits_about_as_long_again_as_it_waited_within_floor_and_cap(
    waited: float, seed: int
) -> None:
    delay = postpone_delay_s(waited, 5.0, 300.0, random.Random(seed))
    nominal = min(300.0, max(5.0, waited))
    assert nominal / 2 <= delay <= nominal


async def test_sleep_or_stop_returns_at_once_when_stopped() -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(0.05, stop.set)
    started = time.monotonic()
    assert await sleep_or_stop(10, stop) is True
    assert time.monotonic() - started < 1
    assert await sleep_or_stop(0.01, asyncio.Event()) is False
