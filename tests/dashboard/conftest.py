"""Dashboard fixtures: the integration suite's per-test schema, topics and consumer group
(tests/integration/conftest.py), the dashboard app in-process for route tests, and
`jobline serve` + `jobline dashboard` subprocesses for the browser tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest

from jobline.config import Settings
from jobline.dashboard.app import create_app
from jobline.dashboard.options import DashboardOptions
from tests.devenv import ROOT, free_port, run_jobline, subprocess_env
from tests.integration.conftest import (  # noqa: F401  (fixtures, by name)
    env,
    kafka_topics,
    route,
    runs_table,
    services_env,
    settings,
    test_id,
)
from tests.integration.helpers import ServeProcess, wait_until
from tests.integration.ops_helpers import ops  # noqa: F401

#: the host the in-process client sends requests to; same-origin POSTs name it
ORIGIN = "http://dash.test"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/dashboard" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


async def open_client(s: Settings, options: DashboardOptions) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(s, options)
    transport = httpx.ASGITransport(app=app)
    headers = {"Origin": ORIGIN}
    async with httpx.AsyncClient(transport=transport, base_url=ORIGIN, headers=headers) as client:
        client.app = app  # type: ignore[attr-defined]
        yield client
    await app.state.hub.stop()
    await app.state.resources.close()


@pytest.fixture
async def dash(ops: Settings) -> AsyncIterator[httpx.AsyncClient]:  # noqa: F811
    """The dashboard app over this test's migrated schema; POSTs carry a same-origin Origin."""
    async for client in open_client(ops, DashboardOptions(sample_interval_s=0.5)):
        yield client


# --- browser tests: `jobline serve` and `jobline dashboard` as an operator runs them ---------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser_type_launch_args() -> dict[str, object]:
    """pytest-playwright launches Debian's Chromium (`make chromium`), never a download."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install it with `make chromium`", pytrace=False)
    return {"executable_path": CHROMIUM, "args": CHROMIUM_ARGS, "headless": True}


@pytest.fixture(scope="session")
def browser_context_args() -> dict[str, object]:
    return {"viewport": {"width": 1280, "height": 820}}


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the browser tests save a picture of each page: JOBLINE_SCREENSHOTS
    (`make screenshots` sets docs/screenshots), else a temporary directory."""
    chosen = os.environ.get("JOBLINE_SCREENSHOTS")
    path = Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


class DashboardProcess:
    """`jobline dashboard` as a subprocess on a free port."""

    def __init__(self, environ: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log_file = Path(tempfile.mkstemp(prefix="jobline-dashboard-", suffix=".log")[1])
        with self.log_file.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "jobline.cli", "dashboard", "--port", str(self.port)],
                env=subprocess_env(environ),
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def answers(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "runners", timeout=2) as r:
                return bool(r.status == 200)
        except (urllib.error.URLError, OSError):
            return self.proc.poll() is not None

    def wait_ready(self) -> None:
        wait_until(self.answers, 30, "the dashboard did not answer")
        if self.proc.poll() is not None:
            raise AssertionError(f"dashboard exited: {self.log_file.read_text()}")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


@dataclass
class Stack:
    settings: Settings
    env: dict[str, str]
    dashboard: DashboardProcess
    serve: ServeProcess


def start_stack(s: Settings, environ: dict[str, str], capabilities: str) -> Stack:
    fast = {
        **environ,
        "JOBLINE_RUNNER_POLL_INTERVAL_S": "0.5",
        "JOBLINE_RETRY_BASE_S": "0.5",
        "JOBLINE_DASHBOARD_SAMPLE_INTERVAL_S": "0.5",
        "JOBLINE_MIGRATE_ON_START": "false",
    }
    serve = ServeProcess(fast, "--capabilities", capabilities)
    dashboard = DashboardProcess(fast)
    try:
        serve.wait_ready()
        dashboard.wait_ready()
    except AssertionError:
        serve.kill()
        dashboard.stop()
        raise
    return Stack(s, fast, dashboard, serve)


@pytest.fixture
def migrated(settings: Settings, env: dict[str, str]) -> Iterator[Settings]:  # noqa: F811
    """Like `ops`, through a `jobline migrate` subprocess: Playwright's sync API holds an
    event loop in this thread, so no asyncio.run() here (nor CliRunner commands)."""
    run_jobline(env, "migrate", check=True)
    yield settings
    for url in (settings.jobs_direct_url, settings.main_direct_url):
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {settings.schema_name} CASCADE")


@pytest.fixture
def stack(
    migrated: Settings,
    env: dict[str, str],  # noqa: F811
    runs_table: str,  # noqa: F811
) -> Iterator[Stack]:
    """The whole pipeline (intake, runner) and the dashboard, on this test's schema."""
    started = start_stack(migrated, env, "intake,runner,http")
    yield started
    started.dashboard.stop()
    started.serve.stop()
