"""The store under test: the in-memory fake, or the real jobs DB in a schema of its own.

Each conformance test runs once per backend. A backend is the store plus the few things a
test needs to see or arrange that the store's protocols do not offer (a runner's
heartbeat made old, the failed jobs).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import psycopg
import pytest

from jobline.config import load_settings
from jobline.databases import jobs_db_for
from jobline.migrator import opened
from jobline.store import JobsDB
from jobline.store.memory import MemoryStore
from tests.db_route import db_route, selected_route
from tests.devenv import ServicesNotStarted, read_services_env


@dataclass
class MemoryBackend:
    store: MemoryStore

    async def age_runner(self, runner_id: str, seconds: float) -> None:
        """As if the runner's last heartbeat, and its locks, were `seconds` old."""
        self.store.runners[runner_id].heartbeat_at -= timedelta(seconds=seconds)
        for row in self.store.jobs.values():
            if row.locked_by == runner_id and row.locked_at is not None:
                row.locked_at -= timedelta(seconds=seconds)

    async def request_drain(self, runner_id: str) -> None:
        """As `jobline runners drain` does."""
        self.store.runners[runner_id].drain_requested = True

    async def failed(self) -> dict[int, int]:
        """Failed job id -> its attempts."""
        return {i: row.attempts for i, row in self.store.failed.items()}


@dataclass
class PostgresBackend:
    store: JobsDB

    async def age_runner(self, runner_id: str, seconds: float) -> None:
        async with self.store.connection() as conn:
            age = {"runner": runner_id, "s": seconds}
            await conn.execute(
                "UPDATE runners SET heartbeat_at = heartbeat_at - make_interval(secs => %(s)s)"
                " WHERE id = %(runner)s",
                age,
            )
            await conn.execute(
                "UPDATE jobs SET locked_at = locked_at - make_interval(secs => %(s)s)"
                " WHERE locked_by = %(runner)s",
                age,
            )

    async def request_drain(self, runner_id: str) -> None:
        async with self.store.connection() as conn:
            await conn.execute(
                "UPDATE runners SET drain_requested_at = now() WHERE id = %s", (runner_id,)
            )

    async def failed(self) -> dict[int, int]:
        async with self.store.connection() as conn:
            cur = await conn.execute("SELECT id, attempts FROM failed_jobs")
            return {int(r[0]): int(r[1]) for r in await cur.fetchall()}


Backend = MemoryBackend | PostgresBackend


@pytest.fixture(params=["memory", pytest.param("postgres", marks=pytest.mark.integration)])
async def backend(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Backend]:
    if request.param == "memory":
        yield MemoryBackend(MemoryStore())
        return
    try:
        services = read_services_env()
    except ServicesNotStarted as exc:
        pytest.fail(str(exc), pytrace=False)
    test_id = uuid.uuid4().hex[:10]
    schema = f"conformance_{test_id}"
    with db_route(services, test_id, selected_route()) as route:
        # The store as servers build it from their settings (JOBLINE_TEST_DB_ROUTE's URLs).
        for key, value in {**services, **route.env, "JOBLINE_SCHEMA": schema}.items():
            monkeypatch.setenv(key, value)
        settings = load_settings()
        async with opened(jobs_db_for(settings, max_size=2), migrate_first=True) as db:
            yield PostgresBackend(db)
        with psycopg.connect(settings.jobs_direct_url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
