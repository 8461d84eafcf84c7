"""Dashboard pages and actions on the real jobs DB, main DB and Kafka, in-process."""

from __future__ import annotations

import asyncio
import re
import time

import httpx
import pytest

from jobline.config import Settings
from tests.integration.ops_helpers import add_config, insert_failed, insert_job, sql


async def new_config() -> int:
    """A recorder plugin config (`jobline configs add`, which runs its own event loop)."""
    return await asyncio.to_thread(add_config)


PAGES = ["/", "/kafka", "/jobs", "/failed", "/dlq", "/configs", "/runners", "/audit"]


@pytest.mark.parametrize("path", PAGES)
async def test_every_page_renders_on_an_empty_schema(dash: httpx.AsyncClient, path: str) -> None:
    response = await dash.get(path)
    assert response.status_code == 200, response.text
    assert "<nav>" in response.text


async def test_jobs_page_walks_the_queue_by_keyset_without_repeating_a_job(
    dash: httpx.AsyncClient, ops: Settings
) -> None:
    config = await new_config()
    ids = [insert_job(ops, config) for _ in range(120)]
    first = await dash.get("/jobs", params={"limit": 100})
    shown = [int(i) for i in re.findall(r'data-job="(\d+)"', first.text)]
    assert shown == ids[:100]
    after = re.search(r'after=(\d+)" rel="next"', first.text)
    assert after is not None and int(after.group(1)) == ids[99]
    second = await dash.get("/jobs", params={"limit": 100, "after": after.group(1)})
    assert [int(i) for i in re.findall(r'data-job="(\d+)"', second.text)] == ids[100:]
    assert 'rel="next"' not in second.text


async def test_jobs_page_filters_by_state_from_the_query_string(
    dash: httpx.AsyncClient, ops: Settings
) -> None:
    config = await new_config()
    due = insert_job(ops, config)
    later = insert_job(ops, config, run_in_s=3600)
    page = (await dash.get("/jobs?state=scheduled")).text
    assert f'data-job="{later}"' in page and f'data-job="{due}"' not in page


async def test_a_page_of_100k_queued_jobs_renders_in_under_a_second(
    dash: httpx.AsyncClient, ops: Settings
) -> None:
    sql(
        ops.jobs_database_url,
        ops.schema_name,
        "INSERT INTO jobs (type, plugin_config_id, team_id, payload, run_at) "
        "SELECT 'record', 1, 42, '{}'::jsonb, now() - interval '1 minute' "
        "FROM generate_series(1, 100000)",
    )
    await dash.get("/jobs")  # warm: pool, main DB
    for path in ("/jobs?limit=100", "/jobs?state=due&limit=100", "/"):
        started = time.perf_counter()
        response = await dash.get(path)
        elapsed = time.perf_counter() - started
        assert response.status_code == 200
        assert elapsed < 1.0, f"{path} took {elapsed:.2f} s"
    pipeline = (await dash.get("/")).text
    assert 'data-gauge="due">100,000+<' in pipeline  # capped count, not a full scan


async def test_retrying_a_failure_group_requeues_it_spread_and_audits_the_dashboard_user(
    dash: httpx.AsyncClient, ops: Settings
) -> None:
    config = await new_config()
    for i in range(1, 4):
        insert_failed(ops, 10 + i, config, f"timeout after {i} s")
    insert_failed(ops, 99, config, "KeyError: 'x'")
    page = (await dash.get("/failed")).text
    assert "timeout after &lt;n&gt; s" in page
    form = {"type": "record", "fingerprint": "timeout after <n> s", "spread": "10m"}
    response = await dash.post("/failed/retry", data=form)
    assert response.status_code == 303
    assert "retried+3+of+3" in response.headers["location"]
    rows = sql(ops.jobs_database_url, ops.schema_name, "SELECT id FROM jobs ORDER BY id")
    assert rows == [(11,), (12,), (13,)]
    audit = sql(ops.jobs_database_url, ops.schema_name, "SELECT actor, action FROM audit_log")
    assert audit == [("dashboard", "failed.retry")]


async def test_deleting_a_failure_group_leaves_the_others(
    dash: httpx.AsyncClient, ops: Settings
) -> None:
    config = await new_config()
    insert_failed(ops, 1, config, "boom 1")
    insert_failed(ops, 2, config, "other")
    await dash.post("/failed/delete", data={"type": "record", "fingerprint": "boom <n>"})
    left = sql(ops.jobs_database_url, ops.schema_name, "SELECT id FROM failed_jobs")
    assert left == [(2,)]


async def test_bulk_action_preview_counts_all_matching_then_cancels_them(
    dash: httpx.AsyncClient, ops: Settings
) -> None:
    config = await new_config()
    for _ in range(3):
        insert_job(ops, config, type="old")
    keep = insert_job(ops, config, type="new")
    form = {"action": "cancel", "scope": "all", "type": "old"}
    preview = await dash.post("/jobs/preview", data=form)
    assert 'data-matched="3"' in preview.text
    assert len(sql(ops.jobs_database_url, ops.schema_name, "SELECT id FROM jobs")) == 4
    await dash.post("/jobs/action", data=form)
    assert sql(ops.jobs_database_url, ops.schema_name, "SELECT id FROM jobs") == [(keep,)]


async def test_pausing_a_config_shows_it_paused_and_is_audited(
    dash: httpx.AsyncClient, ops: Settings
) -> None:
    config = await new_config()
    response = await dash.post(f"/configs/{config}/pause")
    assert response.status_code == 303
    page = (await dash.get("/configs")).text
    assert re.search(rf'data-config="{config}".*?paused', page, re.S)
    assert 'data-action="resume"' in page
    paused = sql(ops.jobs_database_url, ops.schema_name, "SELECT paused_by FROM paused_configs")
    assert paused == [("dashboard",)]


async def test_job_detail_masks_the_named_payload_fields(ops: Settings) -> None:
    from jobline.dashboard.options import DashboardOptions
    from tests.dashboard.conftest import open_client

    config = await new_config()
    job = insert_job(ops, config)
    sql(
        ops.jobs_database_url,
        ops.schema_name,
        """UPDATE jobs SET payload = '{"user": {"token": "s3cret"}, "n": 1}' WHERE id = %s""",
        (job,),
    )
    async for client in open_client(ops, DashboardOptions(mask_fields="token")):
        page = (await client.get(f"/jobs/{job}")).text
        assert "s3cret" not in page
        assert "&#34;token&#34;: &#34;***&#34;" in page


async def test_rescheduling_from_a_job_page_moves_its_run_at_and_returns_there(
    dash: httpx.AsyncClient, ops: Settings
) -> None:
    job = insert_job(ops, await new_config())
    form = {"ids": str(job), "action": "reschedule", "delay": "2h", "back": f"jobs/{job}"}
    response = await dash.post("/jobs/action", data=form)
    assert response.headers["location"].startswith(f"/jobs/{job}?done=reschedule")
    rows = sql(
        ops.jobs_database_url,
        ops.schema_name,
        "SELECT run_at > now() + interval '119 minutes' FROM jobs WHERE id = %s",
        (job,),
    )
    assert rows == [(True,)]


async def test_cancelling_from_a_job_page_returns_to_the_jobs_list(
    dash: httpx.AsyncClient, ops: Settings
) -> None:
    job = insert_job(ops, await new_config())
    form = {"ids": str(job), "action": "cancel", "back": f"jobs/{job}"}
    response = await dash.post("/jobs/action", data=form)
    assert response.headers["location"].startswith("/jobs?done=cancel")
    assert (await dash.get(f"/jobs/{job}")).status_code == 404


async def test_audit_page_filters_by_actor_and_action_prefix(
    dash: httpx.AsyncClient, ops: Settings
) -> None:
    config = await new_config()
    await dash.post(f"/configs/{config}/pause")
    await dash.post("/runners/rescue")
    page = (await dash.get("/audit", params={"action": "configs."})).text
    assert 'data-audit="configs.pause"' in page and "runners.rescue" not in page
    assert 'data-audit="' not in (await dash.get("/audit?actor=someone")).text
