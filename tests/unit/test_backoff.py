"""Retry backoff: exponential, capped, with jitter in [delay/2, delay]."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobline.retry import backoff_seconds

attempts_st = st.integers(min_value=1, max_value=10_000)
base_st = st.floats(min_value=1e-3, max_value=1e6)
cap_st = st.floats(min_value=1e-3, max_value=1e9)


class FixedDraw(random.Random):
    """A random source whose random() always returns the same value."""

    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def random(self) -> float:
        return self.value


def nominal(attempts: int, base: float, cap: float) -> float:
    return min(cap, base * 2.0 ** min(attempts - 1, 62))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(attempts_st, base_st, cap_st, st.integers(0, 2**32))
def test_delay_lies_between_half_and_all_of_the_nominal_delay(
    attempts: int, base: float, cap: float, seed: int
) -> None:
    d = nominal(attempts, base, cap)
    assert d / 2 <= backoff_seconds(attempts, base, cap, random.Random(seed)) <= d


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(attempts_st, base_st, cap_st, st.integers(0, 2**32))
def test_delay_never_exceeds_the_cap(attempts: int, base: float, cap: float, seed: int) -> None:
    assert backoff_seconds(attempts, base, cap, random.Random(seed)) <= cap


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(attempts_st, base_st, cap_st)
def test_nominal_delay_does_not_decrease_with_more_attempts(
    attempts: int, base: float, cap: float
) -> None:
    top = FixedDraw(0.0)  # draw 0 yields exactly half the nominal delay
    now = backoff_seconds(attempts, base, cap, top)
    later = backoff_seconds(attempts + 1, base, cap, top)
    assert later >= now


@pytest.mark.parametrize(("draw", "expected"), [(0.0, 4.0), (0.5, 6.0)])
def test_the_draw_places_the_delay_within_its_jitter_range(draw: float, expected: float) -> None:
    # attempts=3, base=2: nominal 2 * 2^2 = 8 s, so [4, 8]
    assert backoff_seconds(3, 2.0, 3600.0, FixedDraw(draw)) == expected


def test_the_first_retry_waits_about_the_base_delay() -> None:
    assert backoff_seconds(1, 2.0, 3600.0, FixedDraw(0.0)) == 1.0


def test_the_nominal_delay_doubles_with_each_attempt() -> None:
    lows = [backoff_seconds(a, 1.0, 1e9, FixedDraw(0.0)) for a in range(1, 6)]
    assert lows == [0.5, 1.0, 2.0, 4.0, 8.0]


def test_a_capped_delay_stays_at_the_cap() -> None:
    assert backoff_seconds(30, 2.0, 60.0, FixedDraw(0.0)) == 30.0


@pytest.mark.parametrize("attempts", [0, -1, -1000])
def test_attempts_below_one_raise_value_error(attempts: int) -> None:
    with pytest.raises(ValueError, match=str(attempts)):
        backoff_seconds(attempts, 2.0, 60.0)


@pytest.mark.parametrize("attempts", [63, 64, 1_000, 10**6, 10**100])
def test_huge_attempt_counts_do_not_overflow(attempts: int) -> None:
    delay = backoff_seconds(attempts, 2.0, 3600.0, random.Random(1))
    assert 1800.0 <= delay <= 3600.0


def test_works_without_an_explicit_random_source() -> None:
    assert 1.0 <= backoff_seconds(2, 2.0, 60.0) <= 4.0


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32))
def test_the_same_seed_gives_the_same_delay(seed: int) -> None:
    first = backoff_seconds(5, 2.0, 3600.0, random.Random(seed))
    assert backoff_seconds(5, 2.0, 3600.0, random.Random(seed)) == first
