"""`jobline failed`: list, group by error fingerprint, show, retry (reset, spread), delete."""

from __future__ import annotations

from datetime import UTC, datetime

from jobline.config import Settings

from .ops_helpers import add_config, cli, insert_failed, insert_job, ops, sql

__all__ = ["ops"]


def test_group_counts_failures_by_fingerprint_with_numbers_and_hex_normalized(
    ops: Settings,
) -> None:
    config = add_config()
    for i in range(1, 4):
        insert_failed(ops, 100 + i, config, f"timeout after {i} s on 10.0.0.{i} req deadbeef0{i}")
    insert_failed(ops, 200, config, "KeyError: 'name'")
    groups = cli("failed", "list", "--group", "--json").json()
    assert [(g["jobs"], g["fingerprint"]) for g in groups] == [
        (3, "timeout after <n> s on <n>.<n>.<n>.<n> req <hex>"),
        (1, "KeyError: 'name'"),
    ]
    by_print = cli("failed", "list", "--fingerprint", groups[0]["fingerprint"], "--json").json()
    assert by_print["total"] == 3


def test_retry_with_spread_puts_jobs_back_evenly_over_the_window(ops: Settings) -> None:
    config = add_config()
    for i in range(1, 5):
        insert_failed(ops, 10 + i, config, f"timeout {i}")
    insert_failed(ops, 99, config, "other")
    started = datetime.now(UTC)
    result = cli("failed", "retry", "--error-like", "TIMEOUT", "--spread", "10m", "--yes", "--json")
    assert result.code == 0, result.stderr
    assert result.json()["changed"] == 4
    rows = sql(
        ops.jobs_database_url,
        ops.schema_name,
        "SELECT id, run_at, attempts FROM jobs ORDER BY id",
    )
    assert [r[0] for r in rows] == [11, 12, 13, 14]
    offsets = [(r[1] - started).total_seconds() for r in rows]
    for index, offset in enumerate(offsets):  # 10 min / 4 jobs: one every 150 s
        assert abs(offset - 150 * index) < 5, offsets
    assert all(r[2] == 3 for r in rows)  # attempts kept: one more try each
    left = sql(ops.jobs_database_url, ops.schema_name, "SELECT id FROM failed_jobs")
    assert left == [(99,)]
    audit = sql(ops.jobs_database_url, ops.schema_name, "SELECT action, filter FROM audit_log")
    assert audit == [
        ("failed.retry", {"error_like": "TIMEOUT", "reset_attempts": False, "spread_s": 600.0})
    ]


def test_retry_with_reset_attempts_gives_the_job_its_attempts_again(ops: Settings) -> None:
    insert_failed(ops, 7, add_config(), "boom")
    assert cli("failed", "retry", "7", "--reset-attempts", "--yes").code == 0
    job = cli("jobs", "show", "7", "--json").json()
    assert job["attempts"] == 0 and job["last_error"] == "boom"


def test_retry_keeps_a_failed_job_whose_key_a_queued_job_holds(ops: Settings) -> None:
    config = add_config()
    insert_job(ops, config, key="k1")
    insert_failed(ops, 500, config, "boom", key="k1")
    result = cli("failed", "retry", "500", "--yes", "--json").json()
    assert result["matched"] == 1 and result["changed"] == 0
    assert sql(ops.jobs_database_url, ops.schema_name, "SELECT id FROM failed_jobs") == [(500,)]


def test_delete_by_filter_and_unknown_ids(ops: Settings) -> None:
    config = add_config()
    insert_failed(ops, 1, config, "a")
    insert_failed(ops, 2, config, "b", type="other")
    assert cli("failed", "delete", "--type", "other", "--yes").code == 0
    assert sql(ops.jobs_database_url, ops.schema_name, "SELECT id FROM failed_jobs") == [(1,)]
    missing = cli("failed", "show", "31337")
    assert missing.code == 5 and "no failed job with id 31337" in missing.stderr
    assert cli("failed", "retry", "31337", "--yes").code == 5
    assert cli("failed", "retry", "--spread", "soon", "--all", "--yes").code == 2
