"""Intake: malformed messages to the DLQ, oversize refused, exactly-once across SIGKILL."""

from __future__ import annotations

import json
import signal
from datetime import UTC, datetime, timedelta

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from jobline import JobMessage, Jobs, JobTooLarge
from jobline.config import Settings

from .helpers import ServeProcess, add_config, scalar, wait_until


def _valid(n: int, config_id: int, team: int = 42, delay_s: float = 0) -> bytes:
    return json.dumps(
        {
            "type": "record",
            "payload": {"n": n},
            "pluginConfigId": config_id,
            "pluginConfigTeam": team,
            "timestamp": int((datetime.now(UTC) + timedelta(seconds=delay_s)).timestamp() * 1000),
        }
    ).encode()


MALFORMED = {
    b"not json at all": "not_json",
    b"[1, 2, 3]": "not_object",
    b'{"type": "record", "payload": {}, "timestamp": 1}': "missing_field",
    b'{"type": "", "payload": {}, "timestamp": 1, "pluginConfigId": 1, '
    b'"pluginConfigTeam": 1}': "empty_value",
    b'{"type": "record", "payload": {}, "timestamp": "soon", "pluginConfigId": 1, '
    b'"pluginConfigTeam": 1}': "wrong_type",
}


def _dlq_messages(hosts: str, topic: str, expected: int) -> list[dict[str, str]]:
    consumer = Consumer(
        {
            "bootstrap.servers": hosts,
            "group.id": f"dlq-reader-{topic}",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.assign([TopicPartition(topic, 0, 0)])
    found: list[dict[str, str]] = []
    try:

        def poll() -> bool:
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None:
                headers = {k: v.decode() for k, v in (msg.headers() or [])}
                headers["value"] = (msg.value() or b"").decode(errors="replace")
                found.append(headers)
            return len(found) >= expected

        wait_until(poll, 60, f"DLQ holds {len(found)} of {expected} messages", interval_s=0)
    finally:
        consumer.close()
    return found


def test_malformed_messages_go_to_the_dlq_with_reason_and_nothing_else_is_lost(
    env: dict[str, str],
    runs_table: str,
    settings: Settings,
) -> None:
    config_id = add_config(env)
    producer = Producer({"bootstrap.servers": settings.kafka_hosts})
    # Interleave good and bad messages in the same partitions and batches.
    for n in range(50):
        producer.produce(settings.jobs_topic, _valid(n, config_id), key=b"42")
        bad = list(MALFORMED)[n % len(MALFORMED)]
        if n < len(MALFORMED):
            producer.produce(settings.jobs_topic, bad, key=b"42")
    producer.produce(settings.jobs_topic, b"", key=b"42")
    assert producer.flush(30) == 0
    server = ServeProcess(env, "--mode", "jobs")
    try:
        server.wait_ready()
        url = env["JOBLINE_DATABASE_URL"]
        wait_until(
            lambda: scalar(url, f"SELECT count(*) FROM {runs_table}") >= 50,
            60,
            "valid jobs did not all run",
        )
        dlq = _dlq_messages(settings.kafka_hosts, settings.dlq_topic, len(MALFORMED) + 1)
    finally:
        assert server.stop() == 0
    assert scalar(url, f"SELECT count(DISTINCT n) FROM {runs_table}") == 50
    reasons = {(d["value"], d["reason"]) for d in dlq}
    for raw, reason in MALFORMED.items():
        assert (raw.decode(), reason) in reasons
    assert ("", "empty_message") in reasons
    for d in dlq:
        assert d["source_topic"] == settings.jobs_topic
        assert int(d["source_offset"]) >= 0
        assert d["error"]


def test_oversized_job_raises_job_too_large_and_is_not_sent(settings: Settings) -> None:
    big = JobMessage.create(
        type="record", payload={"blob": "x" * 1_100_000}, plugin_config_id=1, team_id=42
    )
    with Jobs.from_settings(settings) as jobs, pytest.raises(JobTooLarge) as caught:
        jobs.for_config(1, team_id=42).record({"blob": "x" * 1_100_000}).run_now()
    assert "JOBLINE_MAX_MESSAGE_BYTES (1,000,000)" in str(caught.value)
    assert caught.value.size > 1_000_000
    with Jobs.from_settings(settings) as jobs, pytest.raises(JobTooLarge):
        # in a batch, one oversized job refuses the whole batch before anything is sent
        small = JobMessage.create(type="record", payload={}, plugin_config_id=1, team_id=42)
        jobs.send([small, big])
    consumer = Consumer({"bootstrap.servers": settings.kafka_hosts, "group.id": "size-check"})
    try:
        for partition in range(8):
            _low, high = consumer.get_watermark_offsets(
                TopicPartition(settings.jobs_topic, partition), timeout=10
            )
            assert high == 0, f"partition {partition} received {high} messages"
    finally:
        consumer.close()


def test_intake_killed_with_sigkill_mid_batch_persists_every_job_exactly_once(
    env: dict[str, str],
    settings: Settings,
) -> None:
    total = 5000
    producer = Producer({"bootstrap.servers": settings.kafka_hosts, "linger.ms": 20})
    for n in range(total):
        producer.produce(
            settings.jobs_topic, _valid(n, 1, team=n % 13, delay_s=3600), key=str(n % 13).encode()
        )
    assert producer.flush(60) == 0
    # Small batches so that the kill lands between commits, not after the last one.
    env = {**env, "JOBLINE_INTAKE_BATCH_SIZE": "50"}
    # Directly: polled before the server's migrate, a check through PgBouncer would leave it
    # server connections with the role's old search_path (docs/configuration.md).
    jobs_url, schema = settings.jobs_direct_url, settings.schema_name
    count = f"SELECT count(*) FROM {schema}.jobs"

    def persisted() -> int:
        try:
            return int(scalar(jobs_url, count))
        except Exception:
            return 0

    first = ServeProcess(env, "--capabilities", "intake,http")
    wait_until(lambda: persisted() >= 500, 60, "intake did not start persisting", interval_s=0.01)
    first.stop(signal.SIGKILL)
    at_kill = persisted()
    assert 0 < at_kill < total, f"kill landed at {at_kill} of {total}"
    second = ServeProcess(env, "--capabilities", "intake,http")
    try:
        wait_until(lambda: persisted() >= total, 90, "not every job was persisted")
        # Let a duplicate, if any, arrive.
        wait_until(lambda: bool(second.events("intake.assigned")), 10, "no assignment")
    finally:
        assert second.stop() == 0
    assert persisted() == total
    distinct = scalar(jobs_url, f"SELECT count(DISTINCT (payload->>'n')) FROM {schema}.jobs")
    assert distinct == total
    with_stored = scalar(
        jobs_url,
        f"SELECT sum(next_offset) FROM {schema}.intake_offsets WHERE topic = %s",
        (settings.jobs_topic,),
    )
    assert with_stored == total
