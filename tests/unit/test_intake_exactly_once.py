"""The intake's persist path over the in-memory store: however a partition is re-read
(crashes, rebalances), each valid trigger is stored once and the offsets only go on.

Pure: sort_batch, store_write and MemoryStore (whose offset rules tests/conformance checks
against PostgreSQL), no Kafka and no database.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from jobline.intake.batch import RawMessage, sort_batch
from jobline.intake.service import store_write
from jobline.intake.settings import IntakeSettings
from jobline.store.memory import MemoryStore
from jobline.store.rows import RefusedJob

SETTINGS = IntakeSettings(
    kafka_hosts="unused:9092",
    topic="jobs",
    dlq_topic="jobs_dlq",
    group="intake",
    batch_size=100,
    batch_ms=10,
    max_message_bytes=1_000_000,
    produce_timeout_s=1.0,
    give_up_after_s=1.0,
)


def _message(offset: int, valid: bool) -> RawMessage:
    fields = {
        "type": "record",
        "payload": {"n": offset},
        "timestamp": 1_700_000_000_000,
        "pluginConfigId": 1,
        "pluginConfigTeam": 1,
    }
    value = json.dumps(fields).encode() if valid else b"not a trigger"
    return RawMessage(topic="jobs", partition=0, offset=offset, key=b"1", value=value)


async def _no_refusals(refused: Sequence[RefusedJob]) -> None:
    raise AssertionError(f"the fake refuses nothing: {refused}")


async def _consume(store: MemoryStore, log: list[RawMessage], reads: list[tuple[int, int]]) -> int:
    """Read the partition as `reads` say (start back by some messages, batch size), then
    to its end; the duplicates the store reported."""
    duplicates = 0
    await store.ensure_offsets(SETTINGS.group, SETTINGS.topic, [0])
    for back, size in [*reads, (0, len(log))]:
        [stored] = (await store.load_offsets(SETTINGS.group, SETTINGS.topic, [0])).values()
        start = max(0, stored - back)  # a consumer may re-read, never skip past the store
        chunk = log[start : start + size]
        if chunk:
            write = store_write(sort_batch(chunk, ()), SETTINGS, _no_refusals)
            duplicates += (await store.persist_intake_batch(write)).duplicates
    return duplicates


@settings(max_examples=60, deadline=None)
@given(
    valid=st.lists(st.booleans(), min_size=1, max_size=30),
    reads=st.lists(st.tuples(st.integers(0, 10), st.integers(1, 8)), max_size=10),
)
def test_each_valid_trigger_is_stored_once_however_the_partition_is_reread(
    valid: list[bool], reads: list[tuple[int, int]]
) -> None:
    log = [_message(offset, ok) for offset, ok in enumerate(valid)]
    store = MemoryStore()
    asyncio.run(_consume(store, log, reads))
    stored = sorted(row.payload["n"] for row in store.jobs.values())
    assert stored == [offset for offset, ok in enumerate(valid) if ok]
    assert store.offsets == {(SETTINGS.group, SETTINGS.topic, 0): len(log)}


def test_a_reread_batch_is_reported_as_duplicates() -> None:
    log = [_message(offset, True) for offset in range(4)]
    store = MemoryStore()
    duplicates = asyncio.run(_consume(store, log, [(0, 3), (2, 3)]))
    assert duplicates == 2
    assert len(store.jobs) == 4
