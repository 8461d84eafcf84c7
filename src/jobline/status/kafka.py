"""Read-only Kafka probes for `jobline status` and `jobline doctor` (AdminClient).

Every call passes its own timeout to librdkafka; the caller still runs each probe on a
thread with a deadline (status/deadline.py) because a broker that accepts connections and
never answers can keep a librdkafka call past its timeout.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field

from confluent_kafka import KafkaException, TopicPartition
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    ConfigResource,
    OffsetSpec,
    ResourceType,
)

from jobline.logs import kafka_logger
from jobline.status.deadline import ProbeTimeout


@dataclass(frozen=True)
class TopicInfo:
    name: str
    partitions: int  # 0: the topic does not exist


@dataclass(frozen=True)
class Watermarks:
    low: int
    high: int


@dataclass(frozen=True)
class GroupMember:
    client_id: str
    host: str
    partitions: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class GroupInfo:
    group: str
    state: str
    members: list[GroupMember]


@dataclass(frozen=True)
class MessageLimits:
    topic_max_message_bytes: int | None
    broker_message_max_bytes: int | None


class KafkaProbe:
    """One AdminClient for a run of probes; nothing here joins a group or commits."""

    def __init__(self, hosts: str, timeout_s: float) -> None:
        self.hosts = hosts
        self.timeout_s = timeout_s
        self._admin = AdminClient(
            {
                "bootstrap.servers": hosts,
                "client.id": "jobline-health",
                # Longer than the probe's own deadline: a broker that accepts and never
                # answers then shows as "timed out", not as a transport error.
                "socket.timeout.ms": int(timeout_s * 3000),
                "socket.connection.setup.timeout.ms": int(timeout_s * 3000),
            },
            logger=kafka_logger(),
        )

    def topics(self, names: list[str]) -> dict[str, TopicInfo]:
        """Partition counts of `names` (0 for a missing topic); raises if Kafka is down.

        librdkafka reports a broker that refuses connections and one that accepts and never
        answers alike (transport failure at the timeout); a plain TCP connect first tells
        a stopped Kafka from a frozen one.
        """
        refused = _refused(self.hosts, self.timeout_s)
        if refused:
            raise ConnectionRefusedError(
                f"connection refused at {refused}: Kafka is not running there"
            )
        started = time.monotonic()
        try:
            meta = self._admin.list_topics(timeout=self.timeout_s)
        except KafkaException:
            if time.monotonic() - started >= self.timeout_s * 0.9:
                raise ProbeTimeout(
                    f"Kafka at {self.hosts} accepts connections but its metadata request",
                    self.timeout_s,
                ) from None
            raise
        found: dict[str, TopicInfo] = {}
        for name in names:
            topic = meta.topics.get(name)
            ok = topic is not None and topic.error is None
            found[name] = TopicInfo(name, len(topic.partitions) if ok and topic else 0)
        return found

    def broker_ids(self) -> list[int]:
        return sorted(self._admin.list_topics(timeout=self.timeout_s).brokers)

    def watermarks(self, topic: str, partitions: int) -> dict[int, Watermarks]:
        earliest = OffsetSpec.earliest()  # type: ignore[no-untyped-call]
        latest = OffsetSpec.latest()  # type: ignore[no-untyped-call]
        lows = self._offsets(topic, partitions, earliest)
        highs = self._offsets(topic, partitions, latest)
        return {p: Watermarks(lows[p], highs[p]) for p in range(partitions)}

    def _offsets(self, topic: str, partitions: int, spec: OffsetSpec) -> dict[int, int]:
        request = {TopicPartition(topic, p): spec for p in range(partitions)}
        futures = self._admin.list_offsets(request, request_timeout=self.timeout_s)
        return {
            tp.partition: int(f.result(timeout=self.timeout_s).offset) for tp, f in futures.items()
        }

    def message_limits(self, topic: str) -> MessageLimits:
        topic_value = self._config(ResourceType.TOPIC, topic, "max.message.bytes")
        ids = self.broker_ids()
        broker_value = (
            self._config(ResourceType.BROKER, str(ids[0]), "message.max.bytes") if ids else None
        )
        return MessageLimits(topic_value, broker_value)

    def _config(self, kind: ResourceType, name: str, key: str) -> int | None:
        futures = self._admin.describe_configs(
            [ConfigResource(kind, name)], request_timeout=self.timeout_s
        )
        for future in futures.values():
            entries = future.result(timeout=self.timeout_s)
            entry = entries.get(key)
            if entry is not None and entry.value is not None:
                return int(entry.value)
        return None

    def group(self, group: str) -> GroupInfo:
        futures = self._admin.describe_consumer_groups([group], request_timeout=self.timeout_s)
        try:
            desc = futures[group].result(timeout=self.timeout_s)
        except KafkaException as exc:
            if "GROUP_ID_NOT_FOUND" in str(exc):
                return GroupInfo(group, "unknown", [])
            raise
        members = [
            GroupMember(
                str(m.client_id),
                str(m.host).lstrip("/"),
                sorted(tp.partition for tp in (m.assignment.topic_partitions or [])),
            )
            for m in desc.members
        ]
        return GroupInfo(group, _state_name(desc.state), members)


def _refused(hosts: str, timeout_s: float) -> str | None:
    """The bootstrap servers, if every one of them refuses a TCP connection."""
    servers = [h.strip() for h in hosts.split(",") if h.strip()]
    for server in servers:
        host, _, port = server.rpartition(":")
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s):
                return None
        except ConnectionRefusedError:
            continue
        except (OSError, ValueError):
            return None  # unresolvable or slow: librdkafka's answer says more
    return ", ".join(servers)


def _state_name(state: object) -> str:
    name = getattr(state, "name", None)
    return str(name if name is not None else state).lower()
