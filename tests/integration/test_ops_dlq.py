"""`jobline dlq`: read the DLQ topic without a group, replay as is or edited, exactly once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from jobline import IntakeUnavailable
from jobline.config import Settings
from jobline.ops.context import ops_context
from jobline.ops.dlq import DlqMessage
from jobline.ops.replay import replay

from .helpers import ServeProcess, scalar, wait_until
from .ops_helpers import add_config, cli, ops, sql

__all__ = ["ops"]


def _dead_letter(s: Settings, value: bytes, reason: str) -> None:
    producer = Producer({"bootstrap.servers": s.kafka_hosts})
    headers = [
        ("reason", reason.encode()),
        ("error", f"invalid job ({reason})".encode()),
        ("source_topic", s.jobs_topic.encode()),
        ("source_partition", b"3"),
        ("source_offset", b"17"),
    ]
    producer.produce(s.dlq_topic, value, b"42", headers=headers)
    assert producer.flush(10) == 0


def _jobs_topic_size(s: Settings) -> int:
    consumer = Consumer({"bootstrap.servers": s.kafka_hosts, "group.id": "size-probe"})
    try:
        meta = consumer.list_topics(s.jobs_topic, 10)
        marks = [
            consumer.get_watermark_offsets(TopicPartition(s.jobs_topic, p), 10)
            for p in meta.topics[s.jobs_topic].partitions
        ]
        return sum(high - low for low, high in marks)
    finally:
        consumer.close()


def _job(config: int, payload: str) -> bytes:
    return (
        f'{{"type": "record", "payload": {payload}, "pluginConfigId": {config}, '
        '"pluginConfigTeam": 42, "timestamp": 0}'
    ).encode()


def test_dlq_list_show_and_stats_read_without_a_group(ops: Settings) -> None:
    config = add_config()
    _dead_letter(ops, _job(config, '{"n": 1}'), "out_of_range")
    _dead_letter(ops, b"not json at all", "not_json")
    listed = cli("dlq", "list", "--json").json()
    assert [(m["partition"], m["offset"], m["reason"]) for m in listed] == [
        (0, 0, "out_of_range"),
        (0, 1, "not_json"),
    ]
    assert listed[0]["source_topic"] == ops.jobs_topic and listed[0]["source_offset"] == 17
    assert [m["offset"] for m in cli("dlq", "list", "--reason", "not_json", "--json").json()] == [1]
    assert len(cli("dlq", "list", "--since", "10m", "--json").json()) == 2
    assert cli("dlq", "list", "--until", "10m", "--json").json() == []
    shown = cli("dlq", "show", "0:1", "--json").json()
    assert shown["value"] == "not json at all" and shown["replayed"] is False
    stats = cli("dlq", "stats", "--json").json()
    assert stats["messages"] == 2 and stats["by_reason"] == {"out_of_range": 1, "not_json": 1}
    missing = cli("dlq", "show", "0:99")
    assert missing.code == 5 and "no message at 0:99" in missing.stderr
    assert cli("dlq", "list", "--partition", "7").code == 5
    groups = AdminClient({"bootstrap.servers": ops.kafka_hosts}).list_consumer_groups().result(10)
    assert not [g.group_id for g in groups.valid if g.group_id.startswith("jobline-dlq-reader")]


def test_a_replayed_dlq_message_runs_once_and_a_second_replay_does_nothing(
    env: dict[str, str],
    ops: Settings,
    runs_table: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = add_config()
    _dead_letter(ops, _job(config, '{"n": 11}'), "out_of_range")
    _dead_letter(ops, b"not json", "not_json")
    _dead_letter(ops, _job(config, '{"n": NaN}'), "not_json")
    url = env["JOBLINE_DATABASE_URL"]
    server = ServeProcess(env, "--mode", "jobs")
    try:
        server.wait_ready()
        dry = cli("dlq", "replay", "0:0", "0:1", "--dry-run", "--json").json()
        assert [o["result"] for o in dry] == ["would_replay", "invalid"]
        first = cli("dlq", "replay", "0:0", "--yes", "--json")
        assert first.code == 0, first.stderr
        assert first.json()[0]["result"] == "replayed"
        wait_until(
            lambda: scalar(url, f"SELECT count(*) FROM {runs_table} WHERE n = 11") == 1,
            30,
            "the replayed job did not run",
        )
        second = cli("dlq", "replay", "0:0", "--yes", "--json")
        assert second.code == 0 and second.json()[0]["result"] == "already_replayed"
        again = cli("dlq", "replay", "0:0", "--dry-run", "--json").json()
        assert again[0]["result"] == "already_replayed"

        # As it is, a malformed message is refused by the codec: not sent, not claimed.
        refused = cli("dlq", "replay", "0:1", "--yes")
        assert refused.code == 1 and "invalid" in refused.stdout and "--edit" in refused.stdout
        fixed = tmp_path / "fixed.json"
        fixed.write_text(_job(config, '{"n": 12}').decode())
        monkeypatch.setenv("EDITOR", f"cp {fixed}")
        assert cli("dlq", "replay", "0:1", "--edit", "--yes").code == 0
        payload = cli("dlq", "replay", "0:2", "--set-payload", '{"n": 13}', "--yes")
        assert payload.code == 0, payload.stdout + payload.stderr

        def ran_once_each() -> bool:
            rows = scalar(url, f"SELECT array_agg(n ORDER BY n) FROM {runs_table}")
            return rows == [11, 12, 13]

        wait_until(ran_once_each, 30, "the edited replays did not run once each")
        assert _jobs_topic_size(ops) == 3  # nothing was produced twice
        replays = sql(
            ops.jobs_database_url,
            ops.schema_name,
            'SELECT "offset", edited FROM dlq_replays ORDER BY 1',
        )
        assert replays == [(0, False), (1, True), (2, True)]
        assert all(m["replayed"] for m in cli("dlq", "list", "--json").json())
    finally:
        assert server.stop() == 0


def test_a_replay_kafka_did_not_acknowledge_leaves_no_replay_record(
    ops: Settings,
) -> None:
    config = add_config()
    message = DlqMessage(
        ops.dlq_topic,
        0,
        5,
        None,
        "42",
        _job(config, '{"n": 1}').decode(),
        "out_of_range",
        None,
        None,
        None,
        None,
    )
    dead_kafka = ops.model_copy(update={"kafka_hosts": "127.0.0.1:1", "produce_timeout_s": 1.0})

    async def replay_once() -> None:
        async with ops_context(dead_kafka, "test") as ctx:
            await replay(ctx, [message])

    with pytest.raises(IntakeUnavailable, match=r"127\.0\.0\.1:1"):
        asyncio.run(replay_once())
    assert sql(ops.jobs_database_url, ops.schema_name, "SELECT count(*) FROM dlq_replays") == [(0,)]
