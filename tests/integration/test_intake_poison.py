"""The intake on real Kafka and PostgreSQL: poison messages, a missing DLQ topic, stored
offsets ahead of the topic. Every message becomes a job or goes to the DLQ; nothing else
stops a partition, and readiness names what is wrong."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from prometheus_client import REGISTRY

from jobline.config import Settings
from jobline.databases import jobs_db_for
from jobline.intake import IntakeService, IntakeSettings
from jobline.intake.dlq import ENVELOPE_BYTES
from jobline.store import JobsDB

from .helpers import scalar

StartIntake = Callable[..., Awaitable[IntakeService]]


def _job(n: int, text: str = "ok", job_type: str = "record", key: str | None = None) -> bytes:
    fields: dict[str, Any] = {
        "type": job_type,
        "payload": {"n": n, "s": text},
        "pluginConfigId": 1,
        "pluginConfigTeam": 42,
        "timestamp": 1,
    }
    if key is not None:
        fields["jobKey"] = key
    return json.dumps(fields).encode()


# 1,000 characters of 4 UTF-8 bytes, no repeats: over the key index's 2,704 bytes.
LONG_KEY = "".join(chr(0x20000 + (n * 7919) % 40000) for n in range(1000))


@pytest.fixture
async def start_intake(jobs_db: JobsDB, settings: Settings) -> AsyncIterator[StartIntake]:
    started: list[IntakeService] = []

    async def start(db: JobsDB = jobs_db, **changes: Any) -> IntakeService:
        fields: dict[str, Any] = {
            "kafka_hosts": settings.kafka_hosts,
            "topic": settings.jobs_topic,
            "dlq_topic": settings.dlq_topic,
            "group": settings.intake_group,
            "batch_size": 100,
            "batch_ms": 20,
            "max_message_bytes": settings.max_message_bytes,
            "produce_timeout_s": 5.0,
            "give_up_after_s": 30.0,
            "session_timeout_s": 6.0,
            "recheck_s": 0.3,
        }
        service = IntakeService(db, IntakeSettings(**{**fields, **changes}))
        await service.start()
        started.append(service)
        return service

    yield start
    for service in started:
        await service.stop(5)


def _produce(settings: Settings, values: list[bytes], partition: int = 0) -> None:
    producer = Producer({"bootstrap.servers": settings.kafka_hosts})
    for value in values:
        producer.produce(settings.jobs_topic, value, key=b"42", partition=partition)
    assert producer.flush(10) == 0


async def _read_dlq(settings: Settings, expected: int, topic: str | None = None) -> list[Any]:
    # On a thread: the intake's own work needs the event loop meanwhile.
    topic = topic or settings.dlq_topic
    return await asyncio.to_thread(_read_dlq_blocking, settings, topic, expected, 10.0)


def _read_dlq_blocking(
    settings: Settings, topic: str, expected: int, timeout_s: float
) -> list[Any]:
    consumer = Consumer({"bootstrap.servers": settings.kafka_hosts, "group.id": "dlq-reader"})
    consumer.assign([TopicPartition(topic, 0, 0)])
    found = []
    try:
        for message in consumer.consume(expected, timeout_s):
            assert message.error() is None
            found.append(message)
    finally:
        consumer.close()
    return found


async def eventually(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for: {what}")
        await asyncio.sleep(0.05)


def _count(settings: Settings, query: str = "SELECT count(*) FROM {schema}.jobs") -> int:
    return int(scalar(settings.jobs_database_url, query.format(schema=settings.schema_name)))


async def test_a_message_postgresql_refuses_goes_to_the_dlq_and_the_good_ones_around_it_persist(
    start_intake: StartIntake, settings: Settings
) -> None:
    # Values PostgreSQL cannot store: NUL in jsonb text (22P05), NUL in a text column
    # (psycopg refuses it), a key over its index's size (54000), a lone surrogate. The
    # codec may refuse some itself (`unstorable`, ...); either way they go to the DLQ.
    poison = {
        5: _job(5, text="a\u0000b"),
        8: _job(8, key=LONG_KEY),
        11: _job(11, job_type="re\u0000cord"),
        13: _job(13, text="\ud800"),
    }
    values = [poison.get(n, _job(n)) for n in range(16)]
    _produce(settings, values)
    splits_before = REGISTRY.get_sample_value("jobline_intake_batch_splits_total") or 0.0
    intake = await start_intake()
    not_ready: list[str] = []

    def persisted_all_good() -> bool:
        if not intake.status().ready:
            not_ready.append(intake.status().detail)
        return _count(settings) == 12

    await eventually(persisted_all_good, 12, "the 12 good messages persisted")
    assert not_ready == [], "readiness blamed a poison message on something"
    dlq = await _read_dlq(settings, 4)
    headers = [{k: v.decode() for k, v in m.headers()} for m in dlq]
    assert sorted(int(h["source_offset"]) for h in headers) == sorted(poison)
    for h in headers:
        if int(h["source_offset"]) in (5, 11):  # NUL: today db_rejected, `unstorable` next
            assert h["reason"] in ("db_rejected", "unstorable")
        assert h["source_topic"] == settings.jobs_topic
    db_rejected = [h for h in headers if h["reason"] == "db_rejected"]
    assert all(h["sqlstate"] and "jobs DB refused" in h["error"] for h in db_rejected)
    if db_rejected:
        splits = REGISTRY.get_sample_value("jobline_intake_batch_splits_total") or 0.0
        assert splits > splits_before
    stored = scalar(
        settings.jobs_database_url,
        f"SELECT array_agg((payload->>'n')::int ORDER BY id) FROM {settings.schema_name}.jobs",
    )
    assert stored == [n for n in range(16) if n not in poison]
    # Still running: the next message is persisted too, and nothing ended the service.
    _produce(settings, [_job(16)])
    await eventually(lambda: _count(settings) == 13, 10, "a message after the poison persisted")
    assert intake.status().ready


async def test_a_dlq_value_over_the_limit_is_cut_with_its_size_and_sha256(
    start_intake: StartIntake, settings: Settings
) -> None:
    big = b"not json " + b"x" * 5000
    _produce(settings, [big, _job(1)])
    await start_intake(max_message_bytes=1000)
    [message] = await _read_dlq(settings, 1)
    headers = {k: v.decode() for k, v in message.headers()}
    assert message.value() == big[:1000]
    assert headers["truncated"] == "value"
    assert headers["original_size"] == str(len(big))
    assert headers["original_sha256"] == hashlib.sha256(big).hexdigest()
    assert headers["reason"] == "not_json"
    await eventually(lambda: _count(settings) == 1, 10, "the good message persisted")


async def test_a_dlq_topic_with_a_lower_limit_than_ours_gets_values_cut_to_fit_it(
    start_intake: StartIntake, settings: Settings, test_id: str
) -> None:
    small = f"jobs_dlq_small_{test_id}"
    admin = AdminClient({"bootstrap.servers": settings.kafka_hosts})
    topic = NewTopic(small, 1, 1, config={"max.message.bytes": str(ENVELOPE_BYTES + 4000)})
    for future in admin.create_topics([topic]).values():
        future.result(timeout=30)
    try:
        big = b"[" + b"1," * 20_000 + b"1]"  # a JSON array: not_object, 40 kB
        _produce(settings, [big])
        await start_intake(dlq_topic=small)
        [message] = await _read_dlq(settings, 1, topic=small)
        assert message.value() == big[:4000]
        headers = {k: v.decode() for k, v in message.headers()}
        assert (headers["reason"], headers["truncated"]) == ("not_object", "value")
    finally:
        for future in admin.delete_topics([small]).values():
            future.result(timeout=30)


async def test_a_missing_dlq_topic_is_reported_at_start_and_clears_once_created(
    start_intake: StartIntake, settings: Settings, test_id: str
) -> None:
    missing = f"jobs_dlq_missing_{test_id}"
    intake = await start_intake(dlq_topic=missing)
    status = intake.status()
    assert not status.ready
    assert f"topic {missing!r} (the DLQ topic) does not exist" in status.detail
    assert f"--create --topic {missing} --partitions 1" in status.detail
    admin = AdminClient({"bootstrap.servers": settings.kafka_hosts})
    for future in admin.create_topics([NewTopic(missing, 1, 1)]).values():
        future.result(timeout=30)
    try:
        await eventually(lambda: intake.status().ready, 10, "readiness after the topic exists")
    finally:
        for future in admin.delete_topics([missing]).values():
            future.result(timeout=30)


async def test_stored_offsets_ahead_of_the_topic_hold_the_partition_until_reset(
    start_intake: StartIntake, jobs_db: JobsDB, settings: Settings
) -> None:
    # The topic was re-created: three new messages, but the jobs DB remembers offset 100.
    _produce(settings, [_job(n) for n in range(3)], partition=0)
    await jobs_db.ensure_offsets(settings.intake_group, settings.jobs_topic, [0])
    offsets = "UPDATE {schema}.intake_offsets SET next_offset = %s WHERE partition = 0"
    table = offsets.format(schema=settings.schema_name)
    scalar(settings.jobs_database_url, table + " RETURNING 1", (100,))
    intake = await start_intake()
    await eventually(lambda: not intake.status().ready, 10, "readiness false")
    detail = intake.status().detail
    assert "partition 0 of topic" in detail
    assert "stored next offset 100 is ahead of the topic's high watermark 3" in detail
    assert "UPDATE" in detail and "SET next_offset = 0" in detail
    await asyncio.sleep(1.5)  # consuming that partition now would drop all three
    assert _count(settings) == 0
    stored = "SELECT next_offset FROM {schema}.intake_offsets WHERE partition = 0"
    assert _count(settings, stored) == 100
    scalar(settings.jobs_database_url, table + " RETURNING 1", (0,))  # the operator's fix
    await eventually(lambda: _count(settings) == 3, 10, "the three messages persisted")
    await eventually(lambda: intake.status().ready, 5, "readiness after the fix")
    assert _count(settings, stored) == 3


async def test_a_jobs_db_out_of_reach_makes_the_intake_wait_unready_and_lose_nothing(
    start_intake: StartIntake, settings: Settings
) -> None:
    _produce(settings, [_job(n) for n in range(3)])
    # Its pool is not open yet: every call fails as a connection would (PoolClosed).
    unreachable = jobs_db_for(settings)
    intake = await start_intake(db=unreachable)
    try:
        await eventually(lambda: not intake.status().ready, 10, "readiness false")
        assert intake.status().detail.startswith("jobs DB unreachable: ")
        await asyncio.sleep(1)
        assert _count(settings) == 0
        await unreachable.open()  # the jobs DB answers again
        await eventually(lambda: _count(settings) == 3, 10, "the three messages persisted")
        await eventually(lambda: intake.status().ready, 5, "readiness after the outage")
    finally:
        await intake.stop(5)
        await unreachable.close()
