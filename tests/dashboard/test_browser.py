"""The dashboard in Debian's Chromium, driven by Playwright, over a running pipeline
(`jobline serve` and `jobline dashboard` as subprocesses on the real services). Each test
saves a screenshot of the pages it visits (see the `screenshots` fixture)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer
from playwright.sync_api import Browser, BrowserType, Page, Playwright, expect, sync_playwright

from jobline.config import Settings
from tests.dashboard.conftest import Stack, start_stack
from tests.integration.helpers import add_config, scalar, wait_until
from tests.integration.ops_helpers import insert_failed, insert_job

TEAM = 42


# pytest-playwright keeps one Playwright (and its event loop, in this thread) for the whole
# session; then every later asyncio test of the session fails. These module-scoped
# overrides stop it when this module is done.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="module")
def browser_type(playwright: Playwright) -> BrowserType:
    return playwright.chromium


@pytest.fixture(scope="module")
def launch_browser(
    browser_type_launch_args: dict[str, Any], browser_type: BrowserType
) -> Callable[..., Browser]:
    def launch(**kwargs: Any) -> Browser:
        return browser_type.launch(**{**browser_type_launch_args, **kwargs})

    return launch


@pytest.fixture(scope="module")
def browser(launch_browser: Callable[[], Browser]) -> Iterator[Browser]:
    opened = launch_browser()
    yield opened
    opened.close()


def _runs(stack: Stack) -> int:
    table = stack.env["RECORDER_TABLE"]
    return int(scalar(stack.env["JOBLINE_DATABASE_URL"], f"SELECT count(*) FROM {table}"))


def _ran(stack: Stack, job_id: int) -> bool:
    table = stack.env["RECORDER_TABLE"]
    query = f"SELECT count(*) FROM {table} WHERE job_id = %s"
    return bool(scalar(stack.env["JOBLINE_DATABASE_URL"], query, (job_id,)))


def _produce(s: Settings, values: list[bytes]) -> None:
    producer = Producer({"bootstrap.servers": s.kafka_hosts})
    for value in values:
        producer.produce(s.jobs_topic, value, str(TEAM).encode())
    assert producer.flush(10) == 0


def _job_message(config: int, n: int) -> bytes:
    body = {"type": "record", "payload": {"n": n}, "pluginConfigId": config,
            "pluginConfigTeam": TEAM}  # fmt: skip
    return json.dumps(body).encode()


def _shot(page: Page, screenshots: Path, name: str) -> None:
    page.screenshot(path=str(screenshots / f"{name}.png"), full_page=True)


def test_retrying_a_failed_group_runs_its_jobs(stack: Stack, page: Page, screenshots: Path) -> None:
    config = add_config(stack.env)
    for i in range(1, 4):
        insert_failed(stack.settings, 100 + i, config, f"timeout after {i} s talking to api")
    insert_failed(stack.settings, 200, config, "KeyError: 'email'", type="record_slow")
    page.goto(stack.dashboard.url + "failed")
    group = page.locator('tr[data-group="record"]')
    expect(group).to_contain_text("timeout after <n> s talking to api")
    _shot(page, screenshots, "failed")
    group.locator("input[name=spread]").fill("2s")
    group.locator("button[data-retry]").click()
    expect(page.get_by_role("status")).to_contain_text("retried 3 of 3 failed job(s)")
    wait_until(lambda: _runs(stack) == 3, 30, "the retried jobs did not run")
    expect(page.locator('tr[data-group="record"]')).to_have_count(0)
    page.goto(stack.dashboard.url)
    expect(page.locator('[data-gauge="failed"]')).to_have_text("1")  # the other group
    expect(page.locator('[data-gauge="live-runners"]')).to_have_text("1")
    # PostgreSQL's row counters reach the statistics within seconds; the page is pushed.
    no_rate = re.compile(r"^(0\.0|—)$")
    expect(page.locator('[data-gauge="finished"]')).not_to_have_text(no_rate, timeout=25_000)
    _shot(page, screenshots, "pipeline")
    page.goto(stack.dashboard.url + "audit")
    expect(page.locator('tr[data-audit="failed.retry"]')).to_contain_text("dashboard")
    _shot(page, screenshots, "audit")


def test_pausing_a_config_stops_the_runner_taking_its_jobs(
    stack: Stack, page: Page, screenshots: Path
) -> None:
    paused, other = add_config(stack.env), add_config(stack.env)
    page.goto(stack.dashboard.url + "configs")
    page.locator(f'tr[data-config="{paused}"] button[data-action="pause"]').click()
    expect(page.get_by_role("status")).to_contain_text(f"plugin config {paused} paused")
    held = insert_job(stack.settings, paused)
    runs = insert_job(stack.settings, other)
    wait_until(lambda: _ran(stack, runs), 30, "the job of the active config did not run")
    assert not _ran(stack, held)
    _shot(page, screenshots, "configs")
    page.goto(stack.dashboard.url + "jobs")
    expect(page.locator(f'tr[data-job="{held}"]')).to_contain_text("paused")
    _shot(page, screenshots, "jobs")
    page.goto(stack.dashboard.url + f"jobs/{held}")
    expect(page.locator("h1")).to_contain_text(f"Job {held}")
    _shot(page, screenshots, "job")
    page.goto(stack.dashboard.url + "configs")
    page.locator(f'tr[data-config="{paused}"] button[data-action="resume"]').click()
    expect(page.get_by_role("status")).to_contain_text(f"plugin config {paused} resumed")
    wait_until(lambda: _ran(stack, held), 30, "the resumed config's job did not run")


def test_replaying_an_edited_dlq_message_runs_its_job(
    stack: Stack, page: Page, screenshots: Path
) -> None:
    config = add_config(stack.env)
    _produce(stack.settings, [b'{"type": "record", "payload": {"n": 7}}'])  # no config: DLQ
    page.goto(stack.dashboard.url + "dlq")

    def dead_lettered() -> bool:
        page.reload()
        return page.locator("tr[data-dlq]").count() == 1

    wait_until(dead_lettered, 30, "the intake did not dead-letter the malformed message")
    _shot(page, screenshots, "dlq")
    page.locator("tr[data-dlq] a").first.click()
    expect(page.locator("pre[data-error]")).not_to_have_text("—")
    _shot(page, screenshots, "dlq_message")
    page.get_by_label("message value").fill(_job_message(config, 7).decode())
    page.locator("button[data-replay]").click()
    expect(page.get_by_role("status")).to_contain_text("replayed 1 of 1 message(s)")
    wait_until(lambda: _runs(stack) == 1, 30, "the replayed job did not run")
    expect(page.locator("tr[data-dlq]")).to_contain_text("replayed")
    page.goto(stack.dashboard.url + "kafka")  # the intake runs: it holds every partition
    expect(page.locator('tr[data-partition="0"] td[data-member]')).to_contain_text("(")


def test_kafka_lag_rises_live_while_no_intake_runs(
    migrated: Settings, env: dict[str, str], runs_table: str, page: Page, screenshots: Path
) -> None:
    stack = start_stack(migrated, env, "runner,http")  # a runner, no intake: nothing persists
    try:
        config = add_config(stack.env)
        page.goto(stack.dashboard.url + "kafka")
        lag = page.locator('[data-gauge="kafka-lag"]')
        expect(lag).to_have_text("0")
        _produce(migrated, [_job_message(config, n) for n in range(6)])
        expect(lag).to_have_text("6", timeout=15_000)  # pushed by the server: no reload
        assert page.evaluate("document.body.dataset.live") == "open"
        _shot(page, screenshots, "kafka")
        page.goto(stack.dashboard.url + "runners")
        page.locator("button[data-drain]").click()
        expect(page.get_by_role("status")).to_contain_text("drains")
        expect(page.locator("tr[data-runner]")).to_contain_text("draining")
        _shot(page, screenshots, "runners")
    finally:
        stack.dashboard.stop()
        stack.serve.stop()


def test_running_all_matching_jobs_now_after_a_count_preview(stack: Stack, page: Page) -> None:
    config = add_config(stack.env)
    later = [insert_job(stack.settings, config, run_in_s=3600) for _ in range(3)]
    other = insert_job(stack.settings, config, type="record_slow", run_in_s=3600)
    page.goto(stack.dashboard.url + "jobs?type=record&state=scheduled")
    expect(page.locator("tr[data-job]")).to_have_count(3)
    page.locator("button[data-preview]").click()  # htmx: a dry run counts the selection
    expect(page.locator("[data-preview-result]")).to_contain_text("would change 3 matching")
    page.locator("button[data-confirm-all]").click()
    expect(page.get_by_role("status")).to_contain_text("run now: 3 of 3 job(s)")
    wait_until(lambda: all(_ran(stack, j) for j in later), 30, "the jobs did not run now")
    assert not _ran(stack, other)
