"""Fault fixtures: a private PostgreSQL + Kafka + Toxiproxy, started once per session.

The shared services (`.local/services.env`) are never touched here: the suite crashes and
restarts what it uses. Each test still gets its own schema, topics, group and runs table.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator

import psycopg
import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from jobline.config import Settings, load_settings
from tests.faults import harness
from tests.faults.instance import services, services_back, services_env, toxiproxy_up

# Short settings so each scenario takes seconds: see docs/reliability.md.
FAST_SETTINGS = {
    "JOBLINE_RUNNER_DEAD_AFTER_S": "3",
    "JOBLINE_RUNNER_HEARTBEAT_S": "0.5",
    "JOBLINE_RUNNER_POLL_INTERVAL_S": "1",
    "JOBLINE_PRODUCE_TIMEOUT_S": "3",
    "JOBLINE_MAX_ATTEMPTS": "25",
    "JOBLINE_RETRY_BASE_S": "0.2",
    "JOBLINE_RETRY_CAP_S": "1",
    "JOBLINE_SHUTDOWN_GRACE_S": "8",
    "JOBLINE_INTAKE_SESSION_TIMEOUT_S": "6",
    "JOBLINE_INTAKE_DB_DOWN_EXIT_S": "120",
    "JOBLINE_JOB_TIMEOUT_S": "20",
}
# The 2 MB poison values must reach the intake: the jobs topic takes them, the DLQ does not.
JOBS_TOPIC_MAX_BYTES = "4000000"


@pytest.fixture(scope="session")
def fault_services() -> dict[str, str]:
    services("up")
    toxiproxy_up()
    return services_env()


@pytest.fixture
def test_id() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture
def kafka_topics(fault_services: dict[str, str], test_id: str) -> Iterator[tuple[str, str]]:
    admin = AdminClient({"bootstrap.servers": fault_services["JOBLINE_KAFKA_HOSTS"]})
    jobs_topic, dlq_topic = f"jobs_{test_id}", f"jobs_dlq_{test_id}"
    new = [
        NewTopic(jobs_topic, 8, 1, config={"max.message.bytes": JOBS_TOPIC_MAX_BYTES}),
        NewTopic(dlq_topic, 1, 1),
    ]
    for future in admin.create_topics(new, operation_timeout=30).values():
        future.result(timeout=60)
    yield jobs_topic, dlq_topic
    for future in admin.delete_topics([jobs_topic, dlq_topic], operation_timeout=30).values():
        with contextlib.suppress(Exception):  # cleanup only; Kafka may be down after a fault
            future.result(timeout=30)


@pytest.fixture
def env(
    fault_services: dict[str, str], test_id: str, kafka_topics: tuple[str, str]
) -> dict[str, str]:
    jobs_topic, dlq_topic = kafka_topics
    return {
        **fault_services,
        **FAST_SETTINGS,
        "JOBLINE_SCHEMA": f"t_{test_id}",
        "JOBLINE_JOBS_TOPIC": jobs_topic,
        "JOBLINE_DLQ_TOPIC": dlq_topic,
        "JOBLINE_INTAKE_GROUP": f"jobs-inserter-{test_id}",
        "JOBLINE_PLUGINS": "tests.plugins.recorder:plugin,tests.plugins.poison:plugin",
        "JOBLINE_LOG_FORMAT": "json",
        "RECORDER_DATABASE_URL": fault_services["JOBLINE_DATABASE_URL"],
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
    services_back()  # a scenario may have left a service down; the next one needs them
    with psycopg.connect(env["JOBLINE_DATABASE_URL"], autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {table}")


@pytest.fixture
def scenario(
    env: dict[str, str], settings: Settings, runs_table: str
) -> Iterator[Callable[[str], harness.Scenario]]:
    """`scenario(name)`: a new Scenario on this test's schema, topics and runs table."""
    opened: list[harness.Scenario] = []

    def make(name: str) -> harness.Scenario:
        opened.append(harness.Scenario(name, env, settings, runs_table))
        return opened[-1]

    yield make
    for each in opened:
        each.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/faults" in str(item.fspath) and not item.get_closest_marker("chaos"):
            item.add_marker(pytest.mark.faults)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if harness.RESULTS:
        terminalreporter.section("fault suite")
        terminalreporter.write_line(harness.table(harness.RESULTS))
