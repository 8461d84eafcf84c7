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
from jobline.plugins.configs import MainDB
from jobline.store import JobsDB
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
def env(
    services_env: dict[str, str], test_id: str, kafka_topics: tuple[str, str]
) -> dict[str, str]:
    """Environment for a `jobline` subprocess (and for load_settings in-process)."""
    jobs_topic, dlq_topic = kafka_topics
    return {
        **services_env,
        "JOBLINE_SCHEMA": f"t_{test_id}",
        "JOBLINE_JOBS_TOPIC": jobs_topic,
        "JOBLINE_DLQ_TOPIC": dlq_topic,
        "JOBLINE_INTAKE_GROUP": f"jobs-inserter-{test_id}",
        "JOBLINE_PLUGINS": "tests.plugins.recorder:plugin",
        "JOBLINE_LOG_FORMAT": "json",
        "RECORDER_DATABASE_URL": services_env["JOBLINE_DATABASE_URL"],
        "RECORDER_TABLE": f"test_runs_{test_id}",
    }


@pytest.fixture
def settings(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return load_settings()


@pytest.fixture
def runs_table(env: dict[str, str]) -> Iterator[str]:
    table = env["RECORDER_TABLE"]
    with psycopg.connect(env["JOBLINE_DATABASE_URL"], autocommit=True) as conn:
        conn.execute(
            f"CREATE TABLE {table} (job_id bigint, job_type text, n integer, attempt integer, "
            "outcome text, at timestamptz NOT NULL DEFAULT clock_timestamp())"
        )
    yield table
    with psycopg.connect(env["JOBLINE_DATABASE_URL"], autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {table}")


@pytest.fixture
async def jobs_db(settings: Settings) -> AsyncIterator[JobsDB]:
    db = JobsDB(settings.jobs_database_url, settings.schema_name)
    await db.migrate()
    await db.open()
    yield db
    await db.close()
    with psycopg.connect(settings.jobs_database_url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {settings.schema_name} CASCADE")


@pytest.fixture
async def main_db(settings: Settings) -> AsyncIterator[MainDB]:
    db = MainDB(settings.database_url, settings.schema_name)
    await db.migrate()
    await db.open()
    yield db
    await db.close()
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {settings.schema_name} CASCADE")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


os.environ.setdefault("PYTHONUNBUFFERED", "1")
