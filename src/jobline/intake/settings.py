"""What an IntakeService is given when it is built (it never reads settings itself)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass


@dataclass(frozen=True)
class IntakeSettings:
    kafka_hosts: str
    topic: str
    dlq_topic: str
    group: str
    batch_size: int
    batch_ms: int
    max_message_bytes: int
    produce_timeout_s: float
    #: how long the jobs DB (or the DLQ) may stay down before the process gives up
    give_up_after_s: float
    skip_configs: Collection[int] = ()
    #: how soon the group notices a dead intake (SIGKILL) and hands its partitions on
    session_timeout_s: float = 10.0
    #: statement_timeout of each statement of a batch's transaction
    db_timeout_s: float = 30.0
    #: how often missing topics and held partitions are checked again
    recheck_s: float = 5.0

    @property
    def dlq_deadline_s(self) -> float:
        """The longest one DLQ write may take (librdkafka's own timeout, plus a margin)."""
        return self.produce_timeout_s + 10.0

    @property
    def batch_deadline_s(self) -> float:
        """The longest one batch's write may take: its statements, and the DLQ write of
        the jobs the jobs DB refused (it happens before the commit)."""
        return 2 * self.db_timeout_s + self.dlq_deadline_s

    def consumer_config(self) -> dict[str, object]:
        """The intake consumer's librdkafka settings (callbacks and client-wide ones apart)."""
        return {
            "bootstrap.servers": self.kafka_hosts,
            "group.id": self.group,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            # Waiting out a jobs DB outage is not a reason to be evicted from the group.
            "max.poll.interval.ms": int(max(300.0, self.give_up_after_s + 60.0) * 1000),
            "fetch.max.bytes": 64 * 1024 * 1024,
            "session.timeout.ms": int(self.session_timeout_s * 1000),
            "heartbeat.interval.ms": int(min(3.0, self.session_timeout_s / 3) * 1000),
            "client.id": "jobline-intake",
        }
