"""Kafka lag per partition, live fragments on NOTIFY, and the DLQ page's replay."""

from __future__ import annotations

import asyncio
import json
import re

import httpx
import psycopg
from confluent_kafka import Producer

from jobline.config import Settings
from jobline.store.jobs_db import notify_channel
from tests.integration.ops_helpers import sql


def _produce(
    s: Settings, topic: str, values: list[bytes], headers: list[tuple[str, bytes]]
) -> None:
    producer = Producer({"bootstrap.servers": s.kafka_hosts})
    for value in values:
        producer.produce(topic, value, b"42", headers=headers, partition=0)
    assert producer.flush(10) == 0


def _dead_letter(s: Settings, value: bytes, reason: str = "not_json") -> None:
    headers = [
        ("reason", reason.encode()),
        ("error", f"invalid job ({reason})".encode()),
        ("source_topic", s.jobs_topic.encode()),
        ("source_partition", b"0"),
        ("source_offset", b"7"),
    ]
    _produce(s, s.dlq_topic, [value], headers)


async def test_kafka_page_shows_messages_not_yet_persisted_as_lag_per_partition(
    dash: httpx.AsyncClient, ops: Settings
) -> None:
    await asyncio.to_thread(_produce, ops, ops.jobs_topic, [b"{}"] * 5, [])
    page = (await dash.get("/kafka")).text
    row = re.search(r'data-partition="0".*?data-lag="(\d+)"', page, re.S)
    assert row is not None and row.group(1) == "5"
    assert 'data-gauge="kafka-lag">5<' in page


async def test_a_notify_on_the_jobs_channel_pushes_fresh_fragments_at_once(
    dash: httpx.AsyncClient, ops: Settings
) -> None:
    hub = dash.app.state.hub  # type: ignore[attr-defined]
    hub.interval_s = 60.0  # only a NOTIFY can bring the next sample within the test
    queue = hub.subscribe()
    await asyncio.wait_for(queue.get(), 10)  # the first sample
    sql(
        ops.jobs_database_url,
        ops.schema_name,
        "INSERT INTO jobs (type, plugin_config_id, team_id, payload, run_at) "
        "VALUES ('record', 1, 42, '{}', now())",
    )
    await asyncio.sleep(1.0)  # the LISTEN connection is up by now
    async with await psycopg.AsyncConnection.connect(ops.jobs_database_url, autocommit=True) as c:
        await c.execute("SELECT pg_notify(%s, '0')", (notify_channel(ops.schema_name),))
    fragments = await asyncio.wait_for(queue.get(), 5)
    assert 'data-gauge="due">1<' in fragments["pipeline"]
    assert hub.notifications >= 1
    hub.unsubscribe(queue)


async def test_dlq_page_lists_dead_letters_with_reason_and_error(
    dash: httpx.AsyncClient, ops: Settings
) -> None:
    await asyncio.to_thread(_dead_letter, ops, b"not json at all")
    page = (await dash.get("/dlq")).text
    assert 'data-dlq="0:0"' in page and "not_json" in page and "invalid job (not_json)" in page
    detail = (await dash.get("/dlq/0/0")).text
    assert "not json at all" in detail


async def test_an_invalid_edit_is_neither_sent_nor_claimed(
    dash: httpx.AsyncClient, ops: Settings
) -> None:
    await asyncio.to_thread(_dead_letter, ops, b"not json at all")
    form = {"positions": "0:0", "value": '{"type": ""}'}
    response = await dash.post("/dlq/replay", data=form)
    assert "replayed+0+of+1" in response.headers["location"]
    assert "invalid" in response.headers["location"]
    assert sql(ops.jobs_database_url, ops.schema_name, "SELECT * FROM dlq_replays") == []


async def test_an_edited_replay_is_sent_once_and_audited(
    dash: httpx.AsyncClient, ops: Settings
) -> None:
    await asyncio.to_thread(_dead_letter, ops, b"not json at all")
    body = {"type": "record", "payload": {"n": 1}, "pluginConfigId": 5, "pluginConfigTeam": 42}
    form = {"positions": "0:0", "value": json.dumps(body)}
    first = await dash.post("/dlq/replay", data=form)
    assert "replayed+1+of+1" in first.headers["location"]
    again = await dash.post("/dlq/replay", data=form)
    assert "replayed+0+of+1" in again.headers["location"]
    claims = sql(
        ops.jobs_database_url, ops.schema_name, "SELECT replayed_by, edited FROM dlq_replays"
    )
    assert claims == [("dashboard", True)]
    page = (await dash.get("/dlq")).text
    assert "replayed</span>" in page


async def test_with_the_jobs_db_down_the_pipeline_page_still_shows_kafka(ops: Settings) -> None:
    from jobline.dashboard.options import DashboardOptions
    from tests.dashboard.conftest import open_client

    down = ops.model_copy(update={"jobs_database_url": "postgresql://postgres@127.0.0.1:1/x"})
    await asyncio.to_thread(_dead_letter, ops, b"not json")
    async for client in open_client(down, DashboardOptions()):
        page = await client.get("/")
        assert page.status_code == 200
        assert "jobs DB:" in page.text and "127.0.0.1:1" in page.text
        assert 'data-gauge="dlq">1<' in page.text  # the Kafka half still answers
