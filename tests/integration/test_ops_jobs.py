"""`jobline jobs`: list with filters, show, run-now, reschedule, cancel; dry runs, --yes,
batches, audit rows, and the exit codes of bad input."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from jobline.config import Settings
from jobline.ops import jobs as ops_jobs
from jobline.ops.changes import Target
from jobline.ops.context import ops_context
from jobline.ops.filters import JobFilter

from .ops_helpers import add_config, cli, insert_job, ops, sql

__all__ = ["ops"]


def test_jobs_list_filters_by_type_and_state(ops: Settings) -> None:
    config = add_config()
    due = insert_job(ops, config)
    insert_job(ops, config, run_in_s=3600)
    insert_job(ops, config, type="other")
    retrying = insert_job(ops, config, run_in_s=60, attempts=1)
    listed = cli("jobs", "list", "--type", "record", "--state", "due", "--json").json()
    assert [j["id"] for j in listed["jobs"]] == [due]
    assert listed["total"] == 1
    again = cli("jobs", "list", "--state", "retrying", "--json").json()
    assert [j["id"] for j in again["jobs"]] == [retrying]
    assert cli("jobs", "list", "--config", str(config), "--json").json()["total"] == 4


def test_jobs_show_names_an_unknown_id_with_exit_5(ops: Settings) -> None:
    job_id = insert_job(ops, add_config())
    assert cli("jobs", "show", str(job_id), "--json").json()["id"] == job_id
    missing = cli("jobs", "show", "987654")
    assert missing.code == 5
    assert "no queued job with id 987654" in missing.stderr


def test_bad_filters_exit_2(ops: Settings) -> None:
    assert cli("jobs", "list", "--state", "sleeping").code == 2
    since = cli("jobs", "list", "--since", "last tuesday")
    assert since.code == 2 and "'last tuesday' is neither a duration" in since.stderr
    unfiltered = cli("jobs", "cancel", "--yes")
    assert unfiltered.code == 2 and "--all" in unfiltered.stderr


def test_cancel_refuses_without_yes_off_a_terminal_and_dry_run_changes_nothing(
    ops: Settings,
) -> None:
    config = add_config()
    ids = [insert_job(ops, config, run_in_s=600) for _ in range(3)]
    dry = cli("jobs", "cancel", "--type", "record", "--dry-run", "--json").json()
    assert dry["dry_run"] is True and dry["matched"] == 3 and len(dry["sample"]) == 3
    refused = cli("jobs", "cancel", "--type", "record")
    assert refused.code == 2 and "without --yes" in refused.stderr
    count = sql(ops.jobs_database_url, ops.schema_name, "SELECT count(*) FROM jobs")
    assert count == [(3,)]
    done = cli("jobs", "cancel", str(ids[0]), str(ids[1]), "--yes", "--actor", "alice", "--json")
    assert done.json()["changed"] == 2
    audit = sql(
        ops.jobs_database_url,
        ops.schema_name,
        "SELECT actor, action, filter, affected FROM audit_log",
    )
    assert audit == [("alice", "jobs.cancel", {"ids": ids[:2]}, 2)]


def test_cancel_of_an_unknown_id_changes_nothing_and_exits_5(ops: Settings) -> None:
    job_id = insert_job(ops, add_config())
    result = cli("jobs", "cancel", str(job_id), "424242", "--yes")
    assert result.code == 5 and "424242" in result.stderr
    assert sql(ops.jobs_database_url, ops.schema_name, "SELECT count(*) FROM jobs") == [(1,)]


def test_run_now_and_reschedule_move_run_at(ops: Settings) -> None:
    config = add_config()
    job_id = insert_job(ops, config, run_in_s=3600)
    assert cli("jobs", "run-now", str(job_id), "--yes").code == 0
    state = cli("jobs", "list", "--state", "due", "--json").json()
    assert [j["id"] for j in state["jobs"]] == [job_id]
    assert cli("jobs", "reschedule", str(job_id), "--in", "2h", "--yes").code == 0
    run_at = sql(ops.jobs_database_url, ops.schema_name, "SELECT run_at FROM jobs")[0][0]
    assert 7000 < (run_at - datetime.now(UTC)).total_seconds() <= 7200


def test_a_bulk_change_runs_in_batches_and_reports_progress(ops: Settings) -> None:
    config = add_config()
    for _ in range(5):
        insert_job(ops, config, run_in_s=600)
    calls: list[tuple[int, int]] = []

    async def go() -> int:
        async with ops_context(ops, "test") as ctx:
            change = await ops_jobs._jobs_change(
                ctx, "jobs.cancel", Target(where=JobFilter(config=config)), ctx.store.cancel_jobs
            )
            from jobline.ops.changes import run_change

            result = await run_change(
                change,
                Target(where=JobFilter(config=config)),
                dry_run=False,
                progress=lambda done, total: calls.append((done, total)),
                batch_size=2,
            )
            return result.changed

    assert asyncio.run(go()) == 5
    assert calls == [(0, 5), (2, 5), (4, 5), (5, 5)]


def test_the_plugin_filter_selects_the_jobs_of_that_plugins_configs(ops: Settings) -> None:
    mine, theirs = add_config(plugin="recorder"), add_config(plugin="billing")
    wanted = insert_job(ops, mine)
    insert_job(ops, theirs)
    listed = cli("jobs", "list", "--plugin", "recorder", "--json").json()
    assert [j["id"] for j in listed["jobs"]] == [wanted]
    assert cli("jobs", "list", "--plugin", "nothing", "--json").json()["total"] == 0


def test_cancel_leaves_a_running_job_alone(ops: Settings) -> None:
    config = add_config()
    running = insert_job(ops, config)
    queued = insert_job(ops, config)
    sql(
        ops.jobs_database_url,
        ops.schema_name,
        "UPDATE jobs SET locked_by = 'r1', locked_at = now() WHERE id = %s",
        (running,),
    )
    result = cli("jobs", "cancel", "--config", str(config), "--yes", "--json").json()
    assert result["matched"] == 2 and result["changed"] == 1
    left = sql(ops.jobs_database_url, ops.schema_name, "SELECT id FROM jobs")
    assert left == [(running,)] and queued != running
