"""Sorting a consumed batch: stored jobs, rejected messages, skipped configs, offset ranges."""

from __future__ import annotations

import ast
import json
from collections import Counter
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobline.intake import batch as batch_module
from jobline.intake.batch import PartitionRange, RawMessage, sort_batch

SKIPPED_CONFIG = 99


def job_bytes(plugin_config_id: int = 7, **changes: Any) -> bytes:
    fields: dict[str, Any] = {
        "type": "hello.greet",
        "payload": {"n": 1},
        "timestamp": 1_700_000_000_000,
        "pluginConfigId": plugin_config_id,
        "pluginConfigTeam": 3,
    }
    fields.update(changes)
    return json.dumps(fields).encode()


def msg(partition: int, offset: int, value: bytes | None) -> RawMessage:
    return RawMessage(topic="jobs", partition=partition, offset=offset, key=b"3", value=value)


def test_valid_messages_become_stored_entries_in_order() -> None:
    batch = sort_batch([msg(0, 5, job_bytes()), msg(0, 6, job_bytes(priority=2))], ())
    assert [(p, o) for p, o, _ in batch.entries] == [(0, 5), (0, 6)]
    jobs = [job for _, _, job in batch.entries]
    assert all(job is not None for job in jobs)
    assert jobs[1] is not None and jobs[1].priority == 2
    assert batch.rejected == []
    assert batch.skipped == 0


def test_the_range_of_a_partition_runs_from_its_first_offset_to_max_plus_one() -> None:
    batch = sort_batch([msg(0, 10, job_bytes()), msg(0, 11, job_bytes())], ())
    assert batch.ranges == [PartitionRange(partition=0, first_offset=10, next_offset=12)]


def test_each_partition_gets_its_own_range_sorted_by_partition() -> None:
    batch = sort_batch(
        [msg(2, 100, job_bytes()), msg(0, 5, job_bytes()), msg(2, 101, job_bytes())], ()
    )
    assert batch.ranges == [
        PartitionRange(partition=0, first_offset=5, next_offset=6),
        PartitionRange(partition=2, first_offset=100, next_offset=102),
    ]


def test_a_malformed_message_is_rejected_with_its_reason() -> None:
    bad = msg(0, 3, b"not json")
    batch = sort_batch([bad], ())
    assert len(batch.rejected) == 1
    assert batch.rejected[0].message == bad
    assert batch.rejected[0].error.reason == "not_json"
    assert batch.entries == [(0, 3, None)]


def test_an_empty_message_is_rejected_as_empty_message() -> None:
    batch = sort_batch([msg(0, 3, None)], ())
    assert batch.rejected[0].error.reason == "empty_message"


def test_a_malformed_message_still_advances_the_range() -> None:
    batch = sort_batch([msg(0, 1, job_bytes()), msg(0, 2, b"{}")], ())
    assert batch.ranges == [PartitionRange(partition=0, first_offset=1, next_offset=3)]


def test_a_batch_of_only_malformed_messages_still_has_a_range() -> None:
    batch = sort_batch([msg(1, 40, b"[]"), msg(1, 41, b"")], ())
    assert batch.ranges == [PartitionRange(partition=1, first_offset=40, next_offset=42)]
    assert [r.error.reason for r in batch.rejected] == ["not_object", "empty_message"]


def test_a_job_of_a_skipped_config_is_counted_and_not_stored() -> None:
    batch = sort_batch(
        [msg(0, 1, job_bytes(SKIPPED_CONFIG)), msg(0, 2, job_bytes(7))], {SKIPPED_CONFIG}
    )
    assert batch.skipped == 1
    assert batch.entries[0] == (0, 1, None)
    assert batch.entries[1][2] is not None
    assert batch.rejected == []


def test_a_skipped_job_still_advances_the_range() -> None:
    batch = sort_batch([msg(0, 8, job_bytes(SKIPPED_CONFIG))], {SKIPPED_CONFIG})
    assert batch.ranges == [PartitionRange(partition=0, first_offset=8, next_offset=9)]


def test_an_empty_batch_has_no_entries_and_no_ranges() -> None:
    batch = sort_batch([], ())
    assert batch.entries == []
    assert batch.ranges == []
    assert batch.rejected == []
    assert batch.skipped == 0


def test_a_gap_in_offsets_is_covered_by_the_range() -> None:
    # compacted or transactional topics leave gaps; the range still spans them
    batch = sort_batch([msg(0, 10, job_bytes()), msg(0, 20, job_bytes())], ())
    assert batch.ranges == [PartitionRange(partition=0, first_offset=10, next_offset=21)]


VALUES = {
    "stored": job_bytes(7),
    "skipped": job_bytes(SKIPPED_CONFIG),
    "not_json": b"{oops",
    "not_object": b"[1]",
    "missing_field": b"{}",
    "empty": None,
}


@st.composite
def batches(draw: st.DrawFn) -> list[tuple[RawMessage, str]]:
    """Messages of up to 4 partitions, with increasing (possibly gapped) offsets in each."""
    steps = draw(
        st.lists(
            st.tuples(st.integers(0, 3), st.integers(1, 5), st.sampled_from(sorted(VALUES))),
            max_size=30,
        )
    )
    starts = draw(st.lists(st.integers(0, 10**12), min_size=4, max_size=4))
    next_offset = dict(enumerate(starts))
    out = []
    for partition, gap, kind in steps:
        offset = next_offset[partition]
        next_offset[partition] = offset + gap
        out.append((msg(partition, offset, VALUES[kind]), kind))
    return out


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches())
def test_every_message_appears_exactly_once_in_entries(
    batch_in: list[tuple[RawMessage, str]],
) -> None:
    messages = [m for m, _ in batch_in]
    batch = sort_batch(messages, {SKIPPED_CONFIG})
    keys = [(p, o) for p, o, _ in batch.entries]
    assert keys == [(m.partition, m.offset) for m in messages]
    assert len(set(keys)) == len(keys)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches())
def test_stored_rejected_and_skipped_add_up_to_the_batch(
    batch_in: list[tuple[RawMessage, str]],
) -> None:
    kinds = Counter(kind for _, kind in batch_in)
    batch = sort_batch([m for m, _ in batch_in], {SKIPPED_CONFIG})
    stored = sum(1 for _, _, job in batch.entries if job is not None)
    assert stored == kinds["stored"]
    assert batch.skipped == kinds["skipped"]
    assert len(batch.rejected) == len(batch_in) - kinds["stored"] - kinds["skipped"]
    assert stored + batch.skipped + len(batch.rejected) == len(batch_in)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches())
def test_ranges_cover_exactly_the_offsets_of_each_partition(
    batch_in: list[tuple[RawMessage, str]],
) -> None:
    messages = [m for m, _ in batch_in]
    batch = sort_batch(messages, {SKIPPED_CONFIG})
    partitions = sorted({m.partition for m in messages})
    assert [r.partition for r in batch.ranges] == partitions
    for r in batch.ranges:
        offsets = [m.offset for m in messages if m.partition == r.partition]
        assert r.first_offset == min(offsets)
        assert r.next_offset == max(offsets) + 1
        assert all(r.first_offset <= o < r.next_offset for o in offsets)


def test_batch_sorting_imports_nothing_from_the_store() -> None:
    # Issue 5's layer rule: batch.py is pure, the store sits above it.
    tree = ast.parse(Path(batch_module.__file__ or "").read_text())
    imported = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    imported += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert imported, "no imports found: the test reads the wrong file"
    assert [name for name in imported if name.startswith("jobline.store")] == []
