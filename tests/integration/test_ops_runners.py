"""`jobline runners list|drain|rescue`, and the runner's side of a drain."""

from __future__ import annotations

import asyncio

from jobline.config import Settings
from jobline.databases import jobs_db_for
from jobline.runner.heartbeat import HeartbeatService

from .ops_helpers import add_config, cli, insert_job, ops, sql

__all__ = ["ops"]


def _add_runner(s: Settings, runner_id: str, beat_age_s: float) -> None:
    sql(
        s.jobs_database_url,
        s.schema_name,
        "INSERT INTO runners (id, hostname, pid, capabilities, heartbeat_at) "
        "VALUES (%s, 'host', 1, '{runner}', now() - make_interval(secs => %s))",
        (runner_id, beat_age_s),
    )


def test_rescue_unlocks_the_jobs_of_a_dead_runner_now(ops: Settings) -> None:
    job_id = insert_job(ops, add_config())
    _add_runner(ops, "dead-1", beat_age_s=3600)
    sql(
        ops.jobs_database_url,
        ops.schema_name,
        "UPDATE jobs SET locked_by = 'dead-1', locked_at = now() - interval '1 hour'",
    )
    listed = cli("runners", "list", "--json").json()
    assert [(r["id"], r["running"]) for r in listed] == [("dead-1", 1)]
    result = cli("runners", "rescue", "--json")
    assert result.code == 0 and result.json()["job_ids"] == [job_id]
    rows = sql(ops.jobs_database_url, ops.schema_name, "SELECT locked_by, attempts FROM jobs")
    assert rows == [(None, 1)]


def test_a_drained_runner_learns_it_with_its_next_heartbeat(ops: Settings) -> None:
    async def beat_twice() -> tuple[bool, bool]:
        db = jobs_db_for(ops)
        await db.open()
        try:
            heartbeat = HeartbeatService(
                db,
                "runner-a",
                ["runner"],
                interval_s=1,
                dead_after_s=30,
                max_attempts_of=lambda _type: 3,
                drain_requested=db.drain_requested,
            )
            await heartbeat._beat()
            before = heartbeat.draining
            sql(
                ops.jobs_database_url,
                ops.schema_name,
                "UPDATE runners SET drain_requested_at = now() WHERE id = 'runner-a'",
            )
            await heartbeat._beat()
            return before, heartbeat.draining
        finally:
            await db.close()

    assert asyncio.run(beat_twice()) == (False, True)


def test_drain_marks_the_runner_and_an_unknown_runner_exits_5(ops: Settings) -> None:
    _add_runner(ops, "live-1", beat_age_s=0)
    drained = cli("runners", "drain", "live-1", "--yes", "--json")
    assert drained.code == 0 and drained.json()["drain_requested_at"] is not None
    missing = cli("runners", "drain", "ghost", "--yes")
    assert missing.code == 5 and "no runner with id 'ghost'" in missing.stderr
