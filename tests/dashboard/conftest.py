"""Dashboard fixtures: the integration suite's per-test schema, topics and consumer group
(tests/integration/conftest.py), the dashboard app in-process for route tests, and
`jobline serve` + `jobline dashboard` subprocesses for the browser tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from jobline.config import Settings
from jobline.dashboard.app import create_app
from jobline.dashboard.options import DashboardOptions
from tests.integration.conftest import (  # noqa: F401  (fixtures, by name)
    env,
    kafka_topics,
    runs_table,
    services_env,
    settings,
    test_id,
)
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
