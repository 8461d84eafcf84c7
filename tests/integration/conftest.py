"""Integration fixtures: the real PostgreSQL and Kafka of `scripts/services up`.

Each test gets its own jobs-DB schema, Kafka topics and consumer group, so tests never
see each other's jobs.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator

import psycopg
import pytest
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from jobline.config import Settings, load_settings
from jobline.databases import jobs_db_for, main_db_for
from jobline.migrator import opened
from jobline.plugins.configs import MainDB
from jobline.store import JobsDB
from tests.db_route import DbRoute, db_route, selected_route
from tests.devenv import ServicesNotStarted, create_topics, read_services_env


@pytest.fixture(scope="session")
def services_env() -> dict[str, str]:
    try:
        return read_services_env()
    except ServicesNotStarted as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def test_id() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture
def kafka_topics(services_env: dict[str, str], test_id: str) -> Iterator[tuple[str, str]]:
    admin = AdminClient({"bootstrap.servers": services_env["JOBLINE_KAFKA_HOSTS"]})
    jobs_topic, dlq_topic = f"jobs_{test_id}", f"jobs_dlq_{test_id}"
    create_topics(admin, {jobs_topic: 8, dlq_topic: 1})
    yield jobs_topic, dlq_topic
    for future in admin.delete_topics([jobs_topic, dlq_topic], operation_timeout=30).values():
        # Cleanup only: a topic left behind has a unique name and harms no other test.
        with contextlib.suppress(KafkaException, TimeoutError):
            future.result(timeout=60)


@pytest.fixture
def route(services_env: dict[str, str], test_id: str) -> Iterator[DbRoute]:
    """How this test's jobline reaches its databases: JOBLINE_TEST_DB_ROUTE (tests/db_route.py)."""
    with db_route(services_env, test_id, selected_route()) as chosen:
        yield chosen


@pytest.fixture
def env(
    services_env: dict[str, str], test_id: str, kafka_topics: tuple[str, str], route: DbRoute
) -> dict[str, str]:
    """Environment for a `jobline` subprocess (and for load_settings in-process)."""
    jobs_topic, dlq_topic = kafka_topics
    return {
        **services_env,
        **route.env,
        "JOBLINE_SCHEMA": f"t_{test_id}",
        "JOBLINE_JOBS_TOPIC": jobs_topic,
        "JOBLINE_DLQ_TOPIC": dlq_topic,
        "JOBLINE_INTAKE_GROUP": f"jobs-inserter-{test_id}",
        "JOBLINE_PLUGINS": "tests.plugins.recorder:plugin",
        "JOBLINE_LOG_FORMAT": "json",
        # The test plugin records its runs directly, as the superuser: not under test.
        "RECORDER_DATABASE_URL": services_env["JOBLINE_DATABASE_URL"],
        "RECORDER_TABLE": f"test_runs_{test_id}",
    }


@pytest.fixture
def settings(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return load_settings()


@pytest.fixture
def runs_table(env: dict[str, str], route: DbRoute) -> Iterator[str]:
    """Where the recorder plugin writes its runs (main DB, public schema, as superuser);
    a test's own role may read it, through PgBouncer, as the checks do."""
    table = env["RECORDER_TABLE"]
    with psycopg.connect(env["RECORDER_DATABASE_URL"], autocommit=True) as conn:
        conn.execute(
            f"CREATE TABLE {table} (job_id bigint, job_type text, n integer, attempt integer, "
            "outcome text, at timestamptz NOT NULL DEFAULT clock_timestamp())"
        )
        if route.role:
            conn.execute(f"GRANT SELECT ON {table} TO {route.role}")
    yield table
    with psycopg.connect(env["RECORDER_DATABASE_URL"], autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {table}")


@pytest.fixture
async def jobs_db(settings: Settings) -> AsyncIterator[JobsDB]:
    """This test's jobs DB, migrated and open, set up from the settings as servers do."""
    async with opened(jobs_db_for(settings), migrate_first=True) as db:
        yield db
    with psycopg.connect(settings.jobs_direct_url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {settings.schema_name} CASCADE")


@pytest.fixture
async def main_db(settings: Settings) -> AsyncIterator[MainDB]:
    """This test's main DB, migrated and open, set up from the settings as servers do."""
    async with opened(main_db_for(settings), migrate_first=True) as db:
        yield db
    with psycopg.connect(settings.main_direct_url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {settings.schema_name} CASCADE")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


os.environ.setdefault("PYTHONUNBUFFERED", "1")
