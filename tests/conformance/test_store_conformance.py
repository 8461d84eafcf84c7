"""The same cases against the in-memory fake and the real jobs DB (ports.py's protocols).

A rule the runner or the intake relies on is a case here, so MemoryStore cannot drift from
PostgreSQL: a unit test over the fake then says something about production.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from jobline import JobMessage
from jobline.job import KeyMode
from jobline.store import (
    FailedAttempt,
    IntakeBatchWrite,
    IntakeEntry,
    OffsetRange,
    Postponement,
    RescueParams,
    RunnerBeat,
)
from jobline.store.ports import IntakeStore, RunnerStore

from .conftest import Backend

GROUP, TOPIC = "intake", "jobs"


def _job(
    n: int,
    *,
    delay_s: float = -1.0,
    key: str | None = None,
    mode: KeyMode = KeyMode.REPLACE,
    queue: str | None = None,
    priority: int = 0,
    max_attempts: int | None = None,
) -> JobMessage:
    return JobMessage.create(
        type="record",
        payload={"n": n},
        plugin_config_id=1,
        team_id=1,
        run_at=datetime.now(UTC) + timedelta(seconds=delay_s),
        key=key,
        key_mode=mode,
        queue=queue,
        priority=priority,
        max_attempts=max_attempts,
    )


def _stores(backend: Backend) -> tuple[RunnerStore, IntakeStore]:
    return backend.store, backend.store  # both protocols, checked by mypy here


async def _ns(store: RunnerStore, runner: str = "r1", limit: int = 100) -> list[int]:
    """The payload numbers of the jobs a fetch gets, in the fetch's order."""
    return [j.payload["n"] for j in await store.fetch_due(runner, limit)]


async def _no_dead_letter(refused: object) -> None:
    raise AssertionError(f"nothing should be refused: {refused}")


def _batch(entries: list[IntakeEntry], next_offset: int) -> IntakeBatchWrite:
    ranges = [OffsetRange(0, entries[0].offset if entries else 0, next_offset)]
    return IntakeBatchWrite(GROUP, TOPIC, entries, ranges, _no_dead_letter, 10.0)


# --- fetch -------------------------------------------------------------------------------


async def test_a_due_job_is_fetched_once_and_stays_locked(backend: Backend) -> None:
    runner, intake = _stores(backend)
    await intake.insert_jobs([_job(1)])
    [job] = await runner.fetch_due("r1", 10)
    assert (job.payload, job.attempts, job.type) == ({"n": 1}, 0, "record")
    assert await runner.fetch_due("r2", 10) == []


async def test_a_job_scheduled_later_is_not_due_but_sets_next_run_at(backend: Backend) -> None:
    runner, intake = _stores(backend)
    later = _job(1, delay_s=3600)
    await intake.insert_jobs([later])
    assert await runner.fetch_due("r1", 10) == []
    assert await runner.next_run_at() == later.run_at


async def test_next_run_at_is_none_when_every_job_is_locked(backend: Backend) -> None:
    runner, intake = _stores(backend)
    await intake.insert_jobs([_job(1)])
    await runner.fetch_due("r1", 10)
    assert await runner.next_run_at() is None


async def test_fetch_goes_by_priority_then_run_at_then_id_up_to_the_limit(
    backend: Backend,
) -> None:
    runner, intake = _stores(backend)
    jobs = [_job(1, delay_s=-5), _job(2, priority=-1), _job(3, delay_s=-9), _job(4, delay_s=-9)]
    await intake.insert_jobs(jobs)
    assert await _ns(runner, limit=3) == [2, 3, 4]
    assert await _ns(runner) == [1]


async def test_a_named_queue_runs_one_job_at_a_time_in_id_order(backend: Backend) -> None:
    runner, intake = _stores(backend)
    await intake.insert_jobs([_job(1, queue="q"), _job(2, queue="q"), _job(3)])
    [head, free] = await runner.fetch_due("r1", 10)
    assert [head.payload["n"], free.payload["n"]] == [1, 3]
    assert await runner.fetch_due("r2", 10) == []  # job 2 waits while job 1 runs
    assert await runner.complete_held("r1", [head.id]) == {head.id}
    assert await _ns(runner, "r2") == [2]


async def test_jobs_behind_a_running_head_wait_while_other_jobs_run(backend: Backend) -> None:
    runner, intake = _stores(backend)
    await intake.insert_jobs([_job(n, queue="q") for n in (1, 2, 3)])
    [head] = await runner.fetch_due("r1", 10)
    await intake.insert_jobs([_job(4), _job(5, queue="q"), _job(6)])
    assert await _ns(runner, "r2") == [4, 6]
    assert await runner.complete_held("r1", [head.id]) == {head.id}
    assert await _ns(runner, "r2") == [2]


async def test_a_retried_head_runs_again_before_the_next_job_of_its_queue(
    backend: Backend,
) -> None:
    runner, intake = _stores(backend)
    await intake.insert_jobs([_job(1, queue="q"), _job(2, queue="q")])
    [head] = await runner.fetch_due("r1", 10)
    soon = FailedAttempt(head.id, "boom", datetime.now(UTC) - timedelta(seconds=1))
    assert await runner.record_failures("r1", [soon]) == {head.id}
    [again] = await runner.fetch_due("r1", 10)
    assert (again.id, again.attempts) == (head.id, 1)
    later = FailedAttempt(head.id, "boom", datetime.now(UTC) + timedelta(hours=1))
    await runner.record_failures("r1", [later])
    assert await runner.fetch_due("r1", 10) == []  # the queue waits for its head's retry
    assert await runner.next_run_at() == later.retry_at


async def test_the_next_job_of_a_queue_runs_once_its_head_failed_for_good(
    backend: Backend,
) -> None:
    runner, intake = _stores(backend)
    await intake.insert_jobs([_job(1, queue="q"), _job(2, queue="q"), _job(3, queue="q")])
    [head] = await runner.fetch_due("r1", 10)
    assert await runner.record_failures("r1", [FailedAttempt(head.id, "boom", None)]) == {head.id}
    assert await _ns(runner) == [2]


async def test_a_released_or_rescued_head_runs_before_the_next_job_of_its_queue(
    backend: Backend,
) -> None:
    runner, intake = _stores(backend)
    await intake.insert_jobs([_job(1, queue="q"), _job(2, queue="q")])
    await runner.heartbeat(RunnerBeat("dead", "host", 1, ("runner",)))
    [head] = await runner.fetch_due("dead", 10)
    await backend.age_runner("dead", 60)
    assert [r.id for r in await runner.rescue_dead_runners(RescueParams(30, 3))] == [head.id]
    [rescued] = await runner.fetch_due("r1", 10)
    assert (rescued.id, rescued.attempts) == (head.id, 1)
    assert await runner.release_held("r1", [head.id]) == {head.id}
    assert await _ns(runner, "r2") == [1]


async def test_a_rescued_head_out_of_attempts_lets_the_next_job_of_its_queue_run(
    backend: Backend,
) -> None:
    runner, intake = _stores(backend)
    await intake.insert_jobs([_job(1, queue="q", max_attempts=1), _job(2, queue="q")])
    await runner.heartbeat(RunnerBeat("dead", "host", 1, ("runner",)))
    [head] = await runner.fetch_due("dead", 10)
    await backend.age_runner("dead", 60)
    await runner.rescue_dead_runners(RescueParams(30, 3))
    assert set(await backend.failed()) == {head.id}
    assert await _ns(runner) == [2]


async def test_the_jobs_of_one_batch_in_one_queue_run_one_after_the_other(
    backend: Backend,
) -> None:
    runner, intake = _stores(backend)
    await intake.insert_jobs([_job(n, queue="q") for n in (1, 2, 3)] + [_job(4, queue="other")])
    for expected in ([1, 4], [2], [3]):
        jobs = await runner.fetch_due("r1", 10)
        assert [j.payload["n"] for j in jobs] == expected
        await runner.complete_held("r1", [j.id for j in jobs])
    assert await runner.fetch_due("r1", 10) == []


async def test_a_head_scheduled_later_holds_its_queue_and_sets_next_run_at(
    backend: Backend,
) -> None:
    runner, intake = _stores(backend)
    later = _job(1, queue="q", delay_s=3600)
    await intake.insert_jobs([later, _job(2, queue="q"), _job(3)])
    assert await _ns(runner) == [3]
    assert await runner.next_run_at() == later.run_at


async def test_next_run_at_names_the_next_future_job_not_a_due_one_left_waiting(
    backend: Backend,
) -> None:
    runner, intake = _stores(backend)
    later = _job(3, delay_s=3600)
    await intake.insert_jobs([_job(1, queue="q"), _job(2, queue="q"), later])
    await runner.fetch_due("r1", 10)  # the head runs; job 2 is due but waits behind it
    assert await runner.next_run_at() == later.run_at


async def test_a_job_a_replace_trigger_moves_to_another_queue_runs_by_that_queues_rule(
    backend: Backend,
) -> None:
    runner, intake = _stores(backend)
    await intake.insert_jobs([_job(1, queue="q"), _job(2, queue="q", key="k"), _job(3, queue="q")])
    [head] = await runner.fetch_due("r1", 10)
    await intake.insert_jobs([_job(20, queue="r", key="k")])  # job 2 leaves q for r
    assert await _ns(runner, "r2") == [20]
    assert await runner.complete_held("r1", [head.id]) == {head.id}
    assert await _ns(runner, "r2") == [3]


async def test_a_head_a_replace_trigger_takes_out_of_its_queue_lets_the_next_one_run(
    backend: Backend,
) -> None:
    runner, intake = _stores(backend)
    await intake.insert_jobs([_job(1, queue="q", key="k"), _job(2, queue="q")])
    await intake.insert_jobs([_job(10, key="k")])  # no queue any more
    assert sorted(await _ns(runner)) == [2, 10]


# --- job keys ----------------------------------------------------------------------------


async def test_a_replace_trigger_overwrites_the_queued_job_with_its_key(backend: Backend) -> None:
    runner, intake = _stores(backend)
    await intake.insert_jobs([_job(1, key="k", delay_s=60)])
    await intake.insert_jobs([_job(2, key="k")])
    assert await _ns(runner) == [2]


async def test_a_replace_trigger_starts_the_queued_jobs_attempts_again(backend: Backend) -> None:
    runner, intake = _stores(backend)
    await intake.insert_jobs([_job(1, key="k")])
    [job] = await runner.fetch_due("r1", 1)
    retry = FailedAttempt(job.id, "boom", datetime.now(UTC) + timedelta(hours=1))
    await runner.record_failures("r1", [retry])
    await intake.insert_jobs([_job(2, key="k")])
    [again] = await runner.fetch_due("r1", 1)
    assert (again.id, again.payload, again.attempts) == (job.id, {"n": 2}, 0)


async def test_a_preserve_trigger_leaves_the_queued_job_with_its_key(backend: Backend) -> None:
    runner, intake = _stores(backend)
    await intake.insert_jobs([_job(1, key="k")])
    await intake.insert_jobs([_job(2, key="k", mode=KeyMode.PRESERVE)])
    assert await _ns(runner) == [1]


async def test_a_running_job_gives_its_key_up_to_a_new_trigger(backend: Backend) -> None:
    runner, intake = _stores(backend)
    await intake.insert_jobs([_job(1, key="k")])
    [running] = await runner.fetch_due("r1", 10)
    await intake.insert_jobs([_job(2, key="k")])
    assert await _ns(runner, "r2") == [2]
    assert await runner.complete_held("r1", [running.id]) == {running.id}


# --- outcomes ----------------------------------------------------------------------------


async def test_outcomes_touch_only_jobs_the_runner_still_holds(backend: Backend) -> None:
    runner, intake = _stores(backend)
    await intake.insert_jobs([_job(1), _job(2)])
    mine, other = await runner.fetch_due("r1", 1) + await runner.fetch_due("r2", 1)
    assert await runner.complete_held("r1", [mine.id, other.id]) == {mine.id}
    failure = FailedAttempt(other.id, "boom", datetime.now(UTC))
    assert await runner.record_failures("r1", [failure]) == set()
    assert await runner.release_held("r1", [other.id]) == set()
    assert await runner.release("r2", [other.id]) == 1


async def test_a_retry_counts_the_attempt_and_is_due_at_its_retry_time(backend: Backend) -> None:
    runner, intake = _stores(backend)
    await intake.insert_jobs([_job(1), _job(2)])
    soon, later = await runner.fetch_due("r1", 2)
    now = datetime.now(UTC)
    retries = [
        FailedAttempt(soon.id, "boom", now - timedelta(seconds=1)),
        FailedAttempt(later.id, "boom", now + timedelta(hours=1)),
    ]
    assert await runner.record_failures("r1", retries) == {soon.id, later.id}
    [again] = await runner.fetch_due("r1", 10)
    assert (again.id, again.attempts) == (soon.id, 1)


async def test_a_final_failure_moves_the_job_out_with_its_attempt(backend: Backend) -> None:
    runner, intake = _stores(backend)
    await intake.insert_jobs([_job(1)])
    [job] = await runner.fetch_due("r1", 1)
    assert await runner.record_failures("r1", [FailedAttempt(job.id, "boom", None)]) == {job.id}
    assert await runner.fetch_due("r1", 10) == []
    assert await runner.next_run_at() is None
    assert await backend.failed() == {job.id: 1}


async def test_a_released_job_is_due_again_without_an_attempt(backend: Backend) -> None:
    runner, intake = _stores(backend)
    await intake.insert_jobs([_job(1)])
    [job] = await runner.fetch_due("r1", 1)
    assert await runner.release_held("r1", [job.id]) == {job.id}
    [again] = await runner.fetch_due("r2", 1)
    assert (again.id, again.attempts) == (job.id, 0)


async def test_orphans_are_the_runners_locked_jobs_it_does_not_hold(backend: Backend) -> None:
    runner, intake = _stores(backend)
    await intake.insert_jobs([_job(n) for n in range(4)])
    held, *lost = await runner.fetch_due("r1", 3)
    [others] = await runner.fetch_due("r2", 1)
    assert await runner.release_orphans("r1", [held.id]) == {j.id for j in lost}
    assert await runner.release_orphans("r2", [others.id]) == set()


async def test_a_postponed_job_is_due_at_its_new_time_and_keeps_its_unrunnable_clock(
    backend: Backend,
) -> None:
    runner, intake = _stores(backend)
    await intake.insert_jobs([_job(1)])
    [job] = await runner.fetch_due("r1", 1)
    back = datetime.now(UTC) - timedelta(seconds=1)
    assert await runner.postpone("r1", [Postponement(job.id, back, True)]) == {job.id}
    [first] = await runner.fetch_due("r1", 1)
    assert first.attempts == 0 and first.unrunnable_since is not None
    await runner.postpone("r1", [Postponement(job.id, back, True)])
    [second] = await runner.fetch_due("r1", 1)
    assert second.unrunnable_since == first.unrunnable_since
    await runner.postpone("r1", [Postponement(job.id, back, False)])  # a disabled config
    [third] = await runner.fetch_due("r1", 1)
    assert third.unrunnable_since is None


# --- heartbeat and rescue ----------------------------------------------------------------


async def test_a_dead_runners_jobs_are_rescued_and_used_up_ones_move_out(
    backend: Backend,
) -> None:
    runner, intake = _stores(backend)
    await intake.insert_jobs([_job(1), _job(2, max_attempts=1), _job(3, delay_s=-0.5)])
    for name in ("dead", "live"):
        await runner.heartbeat(RunnerBeat(name, "host", 1, ("runner",)))
    dead_jobs = await runner.fetch_due("dead", 2)
    [live_job] = await runner.fetch_due("live", 1)
    await backend.age_runner("dead", 60)
    rescued = await runner.rescue_dead_runners(RescueParams(30, 3))
    assert sorted((r.id, r.attempts) for r in rescued) == sorted((j.id, 1) for j in dead_jobs)
    assert set(await backend.failed()) == {dead_jobs[1].id}
    [again] = await runner.fetch_due("live", 10)
    assert (again.id, again.attempts) == (dead_jobs[0].id, 1)
    assert await runner.complete_held("live", [live_job.id]) == {live_job.id}
    assert await runner.rescue_dead_runners(RescueParams(30, 3)) == []


async def test_a_rescue_asks_the_job_types_limit_when_the_trigger_set_none(
    backend: Backend,
) -> None:
    runner, intake = _stores(backend)
    await intake.insert_jobs([_job(1)])
    await runner.heartbeat(RunnerBeat("dead", "host", 1, ("runner",)))
    [job] = await runner.fetch_due("dead", 1)
    await backend.age_runner("dead", 60)
    limits = {"record": 1}
    rescued = await runner.rescue_dead_runners(RescueParams(30, lambda t: limits.get(t, 3)))
    assert [(r.id, r.attempts, r.max_attempts) for r in rescued] == [(job.id, 1, None)]
    assert await backend.failed() == {job.id: 1}


async def test_a_lock_of_a_runner_with_no_row_is_rescued_only_once_it_is_old(
    backend: Backend,
) -> None:
    runner, intake = _stores(backend)
    await intake.insert_jobs([_job(1)])
    await runner.heartbeat(RunnerBeat("gone", "host", 1, ("runner",)))
    [job] = await runner.fetch_due("gone", 1)
    await runner.remove_runner("gone")
    assert await runner.rescue_dead_runners(RescueParams(30, 3)) == []  # its lock is fresh
    await runner.heartbeat(RunnerBeat("gone", "host", 1, ("runner",)))
    await backend.age_runner("gone", 60)
    await runner.remove_runner("gone")
    [rescued] = await runner.rescue_dead_runners(RescueParams(30, 3))
    assert (rescued.id, rescued.attempts) == (job.id, 1)


async def test_a_fresh_heartbeat_keeps_a_runner_alive(backend: Backend) -> None:
    runner, intake = _stores(backend)
    await intake.insert_jobs([_job(1)])
    await runner.heartbeat(RunnerBeat("r1", "host", 1, ("runner",)))
    await runner.fetch_due("r1", 1)
    await backend.age_runner("r1", 60)
    await runner.heartbeat(RunnerBeat("r1", "host", 1, ("runner",)))
    assert await runner.rescue_dead_runners(RescueParams(30, 3)) == []


async def test_a_runner_sees_a_drain_asked_of_it_and_of_no_other(backend: Backend) -> None:
    runner, _ = _stores(backend)
    for name in ("a", "b"):
        await runner.heartbeat(RunnerBeat(name, "host", 1, ("runner",)))
    assert not await runner.drain_requested("a")
    await backend.request_drain("a")
    assert await runner.drain_requested("a")
    assert not await runner.drain_requested("b")
    assert not await runner.drain_requested("never-seen")


# --- intake offsets ----------------------------------------------------------------------


async def test_offsets_start_unknown_and_ensuring_them_twice_keeps_them(backend: Backend) -> None:
    _, intake = _stores(backend)
    assert await intake.load_offsets(GROUP, TOPIC, [0, 1]) == {}
    await intake.ensure_offsets(GROUP, TOPIC, [0, 1])
    await intake.persist_intake_batch(_batch([IntakeEntry(0, 0, _job(0))], 1))
    await intake.ensure_offsets(GROUP, TOPIC, [0, 1])
    assert await intake.load_offsets(GROUP, TOPIC, [0, 1]) == {0: 1, 1: -1}


async def test_a_batch_stores_its_jobs_and_next_offset_and_dlq_entries_still_advance(
    backend: Backend,
) -> None:
    runner, intake = _stores(backend)
    await intake.ensure_offsets(GROUP, TOPIC, [0])
    entries = [IntakeEntry(0, 5, _job(5)), IntakeEntry(0, 6, None), IntakeEntry(0, 7, _job(7))]
    result = await intake.persist_intake_batch(_batch(entries, 8))
    assert (result.persisted, result.duplicates, result.refused) == (2, 0, ())
    assert await intake.load_offsets(GROUP, TOPIC, [0]) == {0: 8}
    assert sorted(await _ns(runner)) == [5, 7]


async def test_a_replayed_batch_is_counted_as_duplicates_and_not_stored_again(
    backend: Backend,
) -> None:
    runner, intake = _stores(backend)
    await intake.ensure_offsets(GROUP, TOPIC, [0])
    entries = [IntakeEntry(0, n, _job(n)) for n in range(3)]
    await intake.persist_intake_batch(_batch(entries, 3))
    overlapping = [*entries[1:], IntakeEntry(0, 3, _job(3))]
    result = await intake.persist_intake_batch(_batch(overlapping, 4))
    assert (result.persisted, result.duplicates) == (1, 2)
    assert sorted(await _ns(runner)) == [0, 1, 2, 3]


async def test_stored_offsets_never_go_back(backend: Backend) -> None:
    _, intake = _stores(backend)
    await intake.ensure_offsets(GROUP, TOPIC, [0])
    await intake.persist_intake_batch(_batch([IntakeEntry(0, 9, _job(9))], 10))
    await intake.persist_intake_batch(_batch([IntakeEntry(0, 2, _job(2))], 3))
    assert await intake.load_offsets(GROUP, TOPIC, [0]) == {0: 10}


async def test_each_partitions_offsets_are_its_own(backend: Backend) -> None:
    _, intake = _stores(backend)
    await intake.ensure_offsets(GROUP, TOPIC, [0, 1])
    entries = [IntakeEntry(0, 4, _job(4)), IntakeEntry(1, 0, _job(100))]
    ranges = [OffsetRange(0, 4, 5), OffsetRange(1, 0, 1)]
    batch = IntakeBatchWrite(GROUP, TOPIC, entries, ranges, _no_dead_letter, 10.0)
    assert (await intake.persist_intake_batch(batch)).persisted == 2
    assert await intake.load_offsets(GROUP, TOPIC, [0, 1]) == {0: 5, 1: 1}
    assert await intake.load_offsets("another-group", TOPIC, [0]) == {}
