"""`jobline configs pause|resume|skip|unskip`: the runners' fetch passes a paused config's
jobs by; the intake's skip list follows the skipped_configs table at run time."""

from __future__ import annotations

import asyncio

from jobline.config import Settings
from jobline.databases import jobs_db_for
from jobline.store.admin import SkipList

from .ops_helpers import add_config, cli, insert_job, ops, sql

__all__ = ["ops"]


async def _fetch_ids(s: Settings) -> list[int]:
    db = jobs_db_for(s)
    await db.open()
    try:
        return sorted(j.id for j in await db.fetch_due("test-runner", 100))
    finally:
        await db.close()


def test_a_paused_configs_due_jobs_are_not_fetched_until_resumed(ops: Settings) -> None:
    paused, other = add_config(), add_config()
    held = [insert_job(ops, paused) for _ in range(3)]
    free = insert_job(ops, other)
    result = cli("configs", "pause", str(paused), "--json")
    assert result.code == 0 and result.json()["changed"] is True
    assert asyncio.run(_fetch_ids(ops)) == [free]
    listed = cli("jobs", "list", "--config", str(paused), "--json").json()
    assert listed["total"] == 3 and all(j["paused"] for j in listed["jobs"])
    assert cli("configs", "resume", str(paused)).code == 0
    assert asyncio.run(_fetch_ids(ops)) == held


def test_pausing_twice_says_so_and_an_unknown_config_exits_5(ops: Settings) -> None:
    config = add_config()
    assert cli("configs", "pause", str(config)).code == 0
    again = cli("configs", "pause", str(config))
    assert again.code == 0 and f"plugin config {config} already paused" in again.stdout
    missing = cli("configs", "skip", "777777")
    assert missing.code == 5 and "plugin config 777777 does not exist" in missing.stderr
    audit = sql(ops.jobs_database_url, ops.schema_name, "SELECT action, affected FROM audit_log")
    assert audit == [("configs.pause", 1)]


def test_the_intake_skip_list_is_the_env_list_plus_the_skipped_configs_table(
    ops: Settings,
) -> None:
    config = add_config()

    skip_sql = "INSERT INTO skipped_configs (plugin_config_id, skipped_by) VALUES (%s, 't')"

    async def skip_lists() -> tuple[frozenset[int], frozenset[int], frozenset[int]]:
        db = jobs_db_for(ops)
        await db.open()
        try:
            skips = SkipList(db, {900}, refresh_s=0)
            before = await skips.current()
            sql(ops.jobs_database_url, ops.schema_name, skip_sql, (config,))
            during = await skips.current()
            cached = SkipList(db, {900}, refresh_s=60)
            first = await cached.current()
            sql(ops.jobs_database_url, ops.schema_name, "DELETE FROM skipped_configs")
            assert await cached.current() == first  # re-read at most every refresh_s
            return before, during, await skips.current()
        finally:
            await db.close()

    before, during, after = asyncio.run(skip_lists())
    assert before == {900}
    assert during == {900, config}
    assert after == {900}
    assert cli("configs", "skip", str(config)).code == 0
    assert cli("configs", "controls", "--json").json()["skipped"][0]["plugin_config_id"] == config
    assert cli("configs", "unskip", str(config)).code == 0
    assert cli("configs", "controls", "--json").json()["skipped"] == []


def test_audit_lists_the_latest_changes_first(ops: Settings) -> None:
    config = add_config()
    assert cli("configs", "pause", str(config), "--actor", "bob").code == 0
    assert cli("configs", "resume", str(config), "--actor", "bob").code == 0
    entries = cli("audit", "--json").json()
    assert [(e["actor"], e["action"], e["filter"]) for e in entries] == [
        ("bob", "configs.resume", {"config": config}),
        ("bob", "configs.pause", {"config": config}),
    ]
