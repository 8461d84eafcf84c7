"""The runner's writes against the real jobs DB: lost locks, refused outcomes, orphans,
and the rescue's attempts limit per job type."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import psycopg
import pytest

from jobline import JobMessage, Plugin
from jobline.config import Settings
from jobline.databases import jobs_db_for
from jobline.metrics import RUNNER_LOCK_LOST, RUNNER_ORPHANS_RELEASED, RUNNER_OUTCOMES_SET_ASIDE
from jobline.plugins.configs import ConfigCache, MainDB
from jobline.plugins.registry import PluginRegistry
from jobline.retry import RetryPolicy
from jobline.runner import RunnerService, RunnerSettings
from jobline.runner import completer as completer_module
from jobline.runner.completer import Completer
from jobline.runner.outcome import Outcome, Result
from jobline.runner.policies import ExecutionPolicy
from jobline.store import FetchedJob, JobsDB, RescueParams, RunnerBeat


def _job(n: int, job_type: str = "record") -> JobMessage:
    return JobMessage.create(
        type=job_type,
        payload={"n": n},
        plugin_config_id=1,
        team_id=1,
        run_at=datetime.now(UTC) - timedelta(seconds=1),
    )


def _sql(settings: Settings, statement: str) -> list[tuple[object, ...]]:
    with psycopg.connect(settings.jobs_database_url, autocommit=True) as conn:
        cur = conn.execute(statement.format(s=settings.schema_name))  # type: ignore[arg-type]
        return cur.fetchall() if cur.description else []


async def _flushed(completer: Completer, *outcomes: Outcome) -> None:
    for outcome in outcomes:
        completer.add(outcome)
    stop = asyncio.Event()
    stop.set()
    await asyncio.wait_for(completer.run(stop), timeout=10)


async def test_an_outcome_for_a_job_whose_lock_was_taken_is_counted_as_lock_lost(
    jobs_db: JobsDB, settings: Settings
) -> None:
    await jobs_db.insert_jobs([_job(1), _job(2)])
    mine, stolen = await jobs_db.fetch_due("r1", 2)
    _sql(settings, f"UPDATE {{s}}.jobs SET locked_by = 'r2' WHERE id = {stolen.id}")
    before = RUNNER_LOCK_LOST.labels("success")._value.get()
    await _flushed(
        Completer(jobs_db, "r1"),
        Outcome(mine.id, Result.SUCCESS),
        Outcome(stolen.id, Result.SUCCESS),
    )
    assert RUNNER_LOCK_LOST.labels("success")._value.get() == before + 1
    # the peer's job is untouched; ours is done
    assert _sql(settings, "SELECT id, locked_by FROM {s}.jobs") == [(stolen.id, "r2")]


async def test_an_outcome_the_db_refuses_is_set_aside_and_the_others_are_written(
    jobs_db: JobsDB, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without the cleaning, a NUL in an error text is a data error for its job alone.
    monkeypatch.setattr(completer_module, "clean_error", lambda text: text)
    await jobs_db.insert_jobs([_job(n) for n in range(3)])
    done, poison, retried = await jobs_db.fetch_due("r1", 3)
    before = RUNNER_OUTCOMES_SET_ASIDE._value.get()
    retry_at = datetime.now(UTC) + timedelta(hours=1)
    await _flushed(
        Completer(jobs_db, "r1"),
        Outcome(done.id, Result.SUCCESS),
        Outcome(poison.id, Result.RETRY, error="bad\x00text", retry_at=retry_at),
        Outcome(retried.id, Result.RETRY, error="boom", retry_at=retry_at),
    )
    assert RUNNER_OUTCOMES_SET_ASIDE._value.get() == before + 1
    rows = _sql(
        settings,
        "SELECT id, locked_by, attempts, last_error, run_at > now() FROM {s}.jobs ORDER BY id",
    )
    # the refused one is handed back for later (not an attempt); the others are written
    assert rows == [(poison.id, None, 0, None, True), (retried.id, None, 1, "boom", True)]


async def test_jobs_locked_by_a_runner_that_does_not_hold_them_are_released(
    jobs_db: JobsDB, settings: Settings
) -> None:
    await jobs_db.insert_jobs([_job(n) for n in range(3)])
    held, *lost = await jobs_db.fetch_due("r1", 3)  # as if the answer of a fetch was lost
    released = await jobs_db.release_orphans("r1", [held.id])
    assert released == {j.id for j in lost}
    assert _sql(settings, "SELECT id FROM {s}.jobs WHERE locked_by = 'r1'") == [(held.id,)]


async def test_the_rescue_moves_out_jobs_that_used_up_their_types_attempts(
    jobs_db: JobsDB, settings: Settings
) -> None:
    await jobs_db.insert_jobs([_job(1, "once_only"), _job(2, "record")])
    await jobs_db.heartbeat(RunnerBeat("dead", "host", 1, ("runner",)))
    await jobs_db.fetch_due("dead", 2)
    _sql(settings, "UPDATE {s}.runners SET heartbeat_at = now() - interval '1 min'")
    limits = {"once_only": 1}
    rescued = await jobs_db.rescue_dead_runners(RescueParams(30, lambda t: limits.get(t, 3)))
    assert len(rescued) == 2
    assert _sql(settings, "SELECT type FROM {s}.failed_jobs") == [("once_only",)]
    assert _sql(settings, "SELECT type, attempts FROM {s}.jobs") == [("record", 1)]


def lose_one_fetch_answer(db: JobsDB, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Make `db`'s first non-empty fetch commit but never answer (a timeout); the ids of
    the jobs it locked."""
    lost: list[int] = []
    fetch_due = db.fetch_due

    async def losing_fetch_due(runner_id: str, limit: int) -> list[FetchedJob]:
        jobs = await fetch_due(runner_id, limit)
        if jobs and not lost:
            lost.extend(j.id for j in jobs)
            raise TimeoutError("the fetch's answer was lost")
        return jobs

    monkeypatch.setattr(db, "fetch_due", losing_fetch_due)
    return lost


async def test_a_fetch_whose_answer_was_lost_releases_its_locks_and_the_jobs_run_once(
    settings: Settings, jobs_db: JobsDB, main_db: MainDB, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran: list[int] = []

    async def record(payload: dict[str, int], meta: object) -> None:
        ran.append(payload["n"])

    config = await main_db.add_config("orphans", team_id=1, settings={})
    db = jobs_db_for(settings)
    lost = lose_one_fetch_answer(db, monkeypatch)
    await db.open()
    cid = config.id
    await db.insert_jobs(
        [
            JobMessage.create(type="record", payload={"n": n}, plugin_config_id=cid, team_id=1)
            for n in range(5)
        ]
    )
    policy = ExecutionPolicy(5, RetryPolicy(), 60, 3600)
    runner = RunnerService(
        db,
        "r1",
        PluginRegistry([Plugin(name="orphans", jobs={"record": record})]),
        ConfigCache(main_db),
        cast(Any, None),  # no triggers from these handlers
        RunnerSettings(4, 0.2, policy, max_beat_age_s=60),
        beat_age_s=lambda: 0.0,
    )
    before = RUNNER_ORPHANS_RELEASED._value.get()
    await runner.start()
    try:
        for _ in range(100):
            if len(ran) == 5:
                break
            await asyncio.sleep(0.1)
    finally:
        await runner.stop(5)
        await db.close()
    assert lost and sorted(ran) == [0, 1, 2, 3, 4]
    assert RUNNER_ORPHANS_RELEASED._value.get() == before + len(lost)
