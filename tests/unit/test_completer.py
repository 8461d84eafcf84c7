"""The Completer over the in-memory store (store/memory.py): outcomes, lost locks, refusals.

Pure: MemoryStore keeps the jobs DB's rules (tests/conformance checks it against
PostgreSQL), so these run in milliseconds without a database.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from jobline import JobMessage
from jobline.metrics import RUNNER_LOCK_LOST, RUNNER_OUTCOMES_SET_ASIDE
from jobline.runner.completer import Completer
from jobline.runner.outcome import Outcome, Result
from jobline.store import FailedAttempt, FetchedJob
from jobline.store.memory import MemoryStore


def _job(n: int) -> JobMessage:
    return JobMessage.create(
        type="record",
        payload={"n": n},
        plugin_config_id=1,
        team_id=1,
        run_at=datetime.now(UTC) - timedelta(seconds=1),
    )


async def _fetched(store: MemoryStore, count: int, runner: str = "r1") -> list[FetchedJob]:
    await store.insert_jobs([_job(n) for n in range(count)])
    return await store.fetch_due(runner, count)


async def _flushed(completer: Completer, *outcomes: Outcome) -> None:
    for outcome in outcomes:
        completer.add(outcome)
    stop = asyncio.Event()
    stop.set()
    await asyncio.wait_for(completer.run(stop), timeout=5)


async def test_each_kind_of_outcome_is_written_to_its_job() -> None:
    store = MemoryStore()
    done, retried, failed, released, postponed = await _fetched(store, 5)
    later = datetime.now(UTC) + timedelta(hours=1)
    await _flushed(
        Completer(store, "r1"),
        Outcome(done.id, Result.SUCCESS),
        Outcome(retried.id, Result.RETRY, error="boom", retry_at=later),
        Outcome(failed.id, Result.FAILED, error="fatal"),
        Outcome(released.id, Result.RELEASED),
        Outcome(postponed.id, Result.POSTPONED, retry_at=later, unrunnable=True),
    )
    jobs = store.jobs
    assert done.id not in jobs and set(store.failed) == {failed.id}
    assert (jobs[retried.id].attempts, jobs[retried.id].run_at) == (1, later)
    assert jobs[retried.id].last_error == "boom"
    assert (jobs[released.id].attempts, jobs[released.id].locked_by) == (0, None)
    assert jobs[postponed.id].run_at == later and jobs[postponed.id].unrunnable_since
    assert all(row.locked_by is None for row in jobs.values())


async def test_an_outcome_for_a_job_the_runner_lost_is_counted_and_not_written() -> None:
    store = MemoryStore()
    mine, stolen = await _fetched(store, 2)
    store.jobs[stolen.id].locked_by = "r2"  # rescued and fetched by a peer meanwhile
    before = RUNNER_LOCK_LOST.labels("success")._value.get()
    await _flushed(
        Completer(store, "r1"), Outcome(mine.id, Result.SUCCESS), Outcome(stolen.id, Result.SUCCESS)
    )
    assert RUNNER_LOCK_LOST.labels("success")._value.get() == before + 1
    assert list(store.jobs) == [stolen.id] and store.jobs[stolen.id].locked_by == "r2"


class RefusingStore(MemoryStore):
    """Refuses, as PostgreSQL would a NUL in text, any failure whose error holds `bad`."""

    async def record_failures(self, runner_id: str, failures: Sequence[FailedAttempt]) -> set[int]:
        if any("bad" in f.error for f in failures):
            raise psycopg.DataError("invalid byte sequence")
        return await super().record_failures(runner_id, failures)


async def test_an_outcome_refused_for_its_data_is_set_aside_and_the_others_written() -> None:
    store = RefusingStore()
    done, poison, retried = await _fetched(store, 3)
    later = datetime.now(UTC) + timedelta(hours=1)
    before = RUNNER_OUTCOMES_SET_ASIDE._value.get()
    await _flushed(
        Completer(store, "r1"),
        Outcome(done.id, Result.SUCCESS),
        Outcome(poison.id, Result.RETRY, error="bad", retry_at=later),
        Outcome(retried.id, Result.RETRY, error="boom", retry_at=later),
    )
    assert RUNNER_OUTCOMES_SET_ASIDE._value.get() == before + 1
    assert sorted(store.jobs) == [poison.id, retried.id]
    handed_back, written = store.jobs[poison.id], store.jobs[retried.id]
    assert (handed_back.attempts, handed_back.locked_by, handed_back.last_error) == (0, None, None)
    assert handed_back.run_at > datetime.now(UTC)  # due again later, not in a tight loop
    assert (written.attempts, written.last_error) == (1, "boom")


class FlakyStore(MemoryStore):
    """Loses its connection on the first completion."""

    failures_left = 1

    async def complete_held(self, runner_id: str, ids: Sequence[int]) -> set[int]:
        if self.failures_left:
            self.failures_left -= 1
            raise psycopg.OperationalError("server closed the connection unexpectedly")
        return await super().complete_held(runner_id, ids)


async def test_outcomes_of_a_failed_flush_stay_held_and_are_written_by_the_next() -> None:
    store = FlakyStore()
    [job] = await _fetched(store, 1)
    completer = Completer(store, "r1")
    completer.add(Outcome(job.id, Result.SUCCESS))
    with pytest.raises(psycopg.OperationalError):
        await completer.flush()
    assert completer.held_ids() == {job.id} and store.jobs[job.id].locked_by == "r1"
    await completer.flush()
    assert completer.held_ids() == set() and store.jobs == {}
