"""The runner's local queue: fixed when set, else about 50 ms of work within bounds."""

from __future__ import annotations

from jobline.runner.prefetch import PrefetchSize


def _after_a_second_at(rate: int, size: PrefetchSize) -> int:
    size.size(0.0)
    for _ in range(rate):
        size.completed()
    return size.size(1.0)


def test_a_fixed_prefetch_is_kept_whatever_the_rate() -> None:
    assert _after_a_second_at(10_000, PrefetchSize(0, least=20)) == 0
    assert _after_a_second_at(5, PrefetchSize(300, least=20)) == 300


def test_short_jobs_grow_the_local_queue_to_50_ms_of_work_up_to_the_most() -> None:
    assert _after_a_second_at(4_000, PrefetchSize(None, least=20)) == 200
    assert _after_a_second_at(40_000, PrefetchSize(None, least=20)) == 500


def test_long_jobs_keep_it_at_the_concurrency() -> None:
    assert PrefetchSize(None, least=20).size(0.0) == 20  # nothing measured yet
    assert _after_a_second_at(30, PrefetchSize(None, least=20)) == 20


def test_the_rate_is_measured_again_every_window() -> None:
    size = PrefetchSize(None, least=10)
    assert _after_a_second_at(8_000, size) == 400
    for _ in range(100):
        size.completed()
    assert size.size(1.5) == 400  # within the window: the last rate holds
    assert size.size(2.0) == 10  # 100 jobs in the last second: 5 jobs' worth, at least 10
