"""The per-partition "last persisted message" gauge the intake sets after each batch."""

from __future__ import annotations

from prometheus_client import REGISTRY

from jobline.metrics import note_persisted_messages


class _Message:
    def __init__(self, partition: int, ms: int, kind: int = 1, error: object = None) -> None:
        self._partition, self._ms, self._kind, self._error = partition, ms, kind, error

    def partition(self) -> int:
        return self._partition

    def timestamp(self) -> tuple[int, int]:
        return self._kind, self._ms

    def error(self) -> object:
        return self._error


def _gauge(partition: int) -> float | None:
    return REGISTRY.get_sample_value(
        "jobline_intake_partition_last_message_timestamp_seconds", {"partition": str(partition)}
    )


def test_each_partition_gets_its_newest_message_timestamp_in_seconds() -> None:
    note_persisted_messages(
        [_Message(901, 1_700_000_000_000), _Message(901, 1_700_000_005_500), _Message(902, 42_000)]
    )
    assert _gauge(901) == 1_700_000_005.5
    assert _gauge(902) == 42.0


def test_errors_and_messages_without_a_timestamp_leave_the_gauge_alone() -> None:
    note_persisted_messages([_Message(903, 0, kind=0), _Message(903, 5_000, error="EOF")])
    assert _gauge(903) is None
