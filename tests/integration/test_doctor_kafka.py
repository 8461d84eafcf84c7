"""`jobline doctor` names Kafka's failures: stopped, frozen, topic missing, size limits."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from jobline.store import JobsDB

from .doctor_support import closed_port, doctor, silent_listener

KAFKA_RESTART_NOT_IT = "restarting the jobs deployment does not help"


async def test_doctor_reports_kafka_stopped_as_failing_kafka_stage(
    env: dict[str, str], jobs_db: JobsDB
) -> None:
    hosts = f"127.0.0.1:{closed_port()}"
    run = doctor({**env, "JOBLINE_KAFKA_HOSTS": hosts})
    assert run.exit_code == 2, run.report
    assert run.elapsed_s < 10
    check = run.check("kafka.reachable")
    assert check["status"] == "fail"
    assert hosts in check["evidence"]
    assert run.verdict["stage"] == "Kafka"
    assert KAFKA_RESTART_NOT_IT in run.verdict["action"]["text"]


async def test_doctor_reports_frozen_kafka_as_timed_out_within_10_seconds(
    env: dict[str, str], jobs_db: JobsDB
) -> None:
    with silent_listener() as port:
        run = doctor({**env, "JOBLINE_KAFKA_HOSTS": f"127.0.0.1:{port}"})
    assert run.elapsed_s < 10, f"doctor took {run.elapsed_s:.1f} s on a frozen Kafka"
    assert run.exit_code == 2
    check = run.check("kafka.reachable")
    assert check["status"] == "timeout", check
    assert "timed out after" in check["evidence"]
    assert run.verdict["stage"] == "Kafka"
    # The jobs DB is still checked, not blocked behind the frozen Kafka.
    assert run.check("jobs_db.reachable")["status"] == "ok"


async def test_doctor_reports_a_missing_jobs_topic_with_the_create_command(
    env: dict[str, str], jobs_db: JobsDB
) -> None:
    topic = f"jobs_missing_{env['JOBLINE_SCHEMA']}"
    run = doctor({**env, "JOBLINE_JOBS_TOPIC": topic})
    assert run.exit_code == 2
    assert run.elapsed_s < 10
    check = run.check("kafka.topic.jobs")
    assert check["status"] == "fail"
    assert topic in check["evidence"]
    assert run.verdict["stage"] == "Kafka"
    assert f"--create --topic {topic}" in run.verdict["action"]["command"]


@pytest.fixture
def small_topic(services_env: dict[str, str], test_id: str) -> Iterator[str]:
    """A jobs topic whose max.message.bytes (20,000) is below the producer's limit."""
    admin = AdminClient({"bootstrap.servers": services_env["JOBLINE_KAFKA_HOSTS"]})
    topic = f"jobs_small_{test_id}"
    new = NewTopic(topic, num_partitions=2, replication_factor=1)
    new.config = {"max.message.bytes": "20000"}
    for future in admin.create_topics([new], operation_timeout=30).values():
        future.result(timeout=60)
    yield topic
    for future in admin.delete_topics([topic], operation_timeout=30).values():
        with contextlib.suppress(Exception):  # cleanup only
            future.result(timeout=60)


async def test_doctor_fails_when_the_producer_limit_is_above_the_topic_limit(
    env: dict[str, str], jobs_db: JobsDB, small_topic: str
) -> None:
    run = doctor({**env, "JOBLINE_JOBS_TOPIC": small_topic, "JOBLINE_MAX_MESSAGE_BYTES": "1000000"})
    assert run.exit_code == 2
    check = run.check("kafka.message_size")
    assert check["status"] == "fail"
    assert "max.message.bytes=20,000" in check["evidence"]
    assert run.verdict["stage"] == "Kafka"
    assert f"--entity-name {small_topic}" in run.verdict["action"]["command"]


async def test_doctor_accepts_a_producer_limit_below_the_topic_limit(
    env: dict[str, str], jobs_db: JobsDB, small_topic: str
) -> None:
    run = doctor({**env, "JOBLINE_JOBS_TOPIC": small_topic, "JOBLINE_MAX_MESSAGE_BYTES": "15000"})
    assert run.check("kafka.message_size")["status"] == "ok"
