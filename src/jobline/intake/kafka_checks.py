"""What the intake checks on Kafka before trusting it: topics exist, stored offsets fit.

Each check answers with the operator's words: what is wrong, the values, and the fix.
Every call here takes a timeout; they run on a worker thread (or the consumer's).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import (  # type: ignore[attr-defined]  # re-exported, untyped
    AdminClient,
    ConfigResource,
)

from jobline.kafka_client import kafka_client_config

#: the longest a watermark or topic-config request of the intake may take
KAFKA_CALL_TIMEOUT_S = 5.0
#: the topics check: at start, and every few seconds while Kafka or a topic is missing; a
#: short wait keeps start and stop quick while Kafka is down (the check is only repeated)
METADATA_TIMEOUT_S = 2.0


def missing_topics(consumer: Consumer, hosts: str, topic: str, dlq_topic: str) -> str | None:
    """None when both topics exist; else what is missing and how to create it.

    Lists all topics: naming one could auto-create it on a broker that allows that."""
    metadata = consumer.list_topics(timeout=METADATA_TIMEOUT_S)
    problems = []
    for name, role, partitions, why in (
        (topic, "the jobs topic", "N", "N: as many as intakes you want to spread over"),
        (
            dlq_topic,
            "the DLQ topic",
            "1",
            "until it exists, malformed messages cannot be dead-lettered and the intake "
            "cannot move past them",
        ),
    ):
        found = metadata.topics.get(name)
        if found is None or found.error is not None:
            problems.append(
                f"topic {name!r} ({role}) does not exist on {hosts}: create it with "
                f"{partitions} partition(s), e.g. `kafka-topics.sh --bootstrap-server {hosts} "
                f"--create --topic {name} --partitions {partitions} --replication-factor 3` "
                f"(1 on a single broker); {why}"
            )
    return "; ".join(problems) or None


def topic_max_message_bytes(hosts: str, topic: str) -> int:
    """The largest record batch the topic takes (its max.message.bytes, or the broker's)."""
    admin = AdminClient({"bootstrap.servers": hosts, **kafka_client_config()})
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    future = admin.describe_configs([resource], request_timeout=KAFKA_CALL_TIMEOUT_S)[resource]
    entries = future.result(timeout=KAFKA_CALL_TIMEOUT_S)
    return int(entries["max.message.bytes"].value)


@dataclass(frozen=True)
class HeldPartition:
    """A partition the intake will not consume until its stored offset is fixed."""

    partition: int
    stored: int
    #: the partition's high watermark, -1 when it could not be read
    high: int
    reason: str


def offsets_ahead(
    consumer: Consumer,
    topic: str,
    stored: Mapping[int, int],
    fix: OffsetFix,
) -> list[HeldPartition]:
    """The partitions whose stored next offset is past the topic's high watermark.

    Consuming those would take every new message for one already persisted (the topic was
    re-created or moved) and drop it as a duplicate, so they are held instead."""
    held = []
    for partition, offset in sorted(stored.items()):
        if offset < 0:
            continue  # nothing persisted yet: nothing to be ahead of
        try:
            low, high = consumer.get_watermark_offsets(
                TopicPartition(topic, partition), timeout=KAFKA_CALL_TIMEOUT_S
            )
        except KafkaException as exc:
            reason = (
                f"partition {partition} of topic {topic!r}: its high watermark could not "
                f"be read ({exc}); not consumed until it can be compared with the stored "
                f"offset {offset}"
            )
            held.append(HeldPartition(partition, offset, -1, reason))
            continue
        if offset > high:
            reason = fix.describe(partition, offset, low, high)
            held.append(HeldPartition(partition, offset, high, reason))
    return held


@dataclass(frozen=True)
class OffsetFix:
    """Names the intake_offsets row of a partition, for the operator's fix."""

    schema: str
    group: str
    topic: str

    def describe(self, partition: int, stored: int, low: int, high: int) -> str:
        return (
            f"partition {partition} of topic {self.topic!r}: the stored next offset {stored} "
            f"is ahead of the topic's high watermark {high} (was the topic re-created or "
            "moved?); the intake does not consume this partition, so that no new message "
            "is taken for one already persisted. Fix, once sure the messages from offset "
            f"{low} on are new: `UPDATE {self.schema}.intake_offsets SET next_offset = {low} "
            f"WHERE consumer_group = '{self.group}' AND topic = '{self.topic}' AND "
            f"partition = {partition}` (docs/operations.md); the intake resumes by itself"
        )
