"""What the dashboard asks Kafka: the watermarks of the jobs and DLQ topics (consumers that
join no group and commit nothing) and which intake member holds each partition. In a
worker thread: librdkafka calls block."""

from __future__ import annotations

import asyncio
import threading

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from jobline.config import Settings
from jobline.errors import JoblineError, NotFound
from jobline.logs import kafka_logger
from jobline.ops.dlq import DlqReader

KAFKA_TIMEOUT_S = 2.0


class KafkaMarks:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._readers: dict[str, DlqReader] = {}
        self._admin: AdminClient | None = None
        self._lock = threading.Lock()  # a client is used by one thread at a time

    def _marks(self, topic: str) -> dict[int, tuple[int, int]]:
        with self._lock:
            reader = self._readers.get(topic)
            if reader is None:
                reader = DlqReader(self.settings.kafka_hosts, topic, KAFKA_TIMEOUT_S)
                self._readers[topic] = reader
            try:
                return reader.watermarks(reader.partitions())
            except NotFound:
                raise NotFound(
                    f"topic {topic!r} does not exist on Kafka at {self.settings.kafka_hosts}: "
                    "create it, or check JOBLINE_JOBS_TOPIC and JOBLINE_DLQ_TOPIC"
                ) from None
            except JoblineError:
                self._readers.pop(topic).close()  # a fresh consumer next time
                raise

    async def marks(self, topic: str) -> dict[int, tuple[int, int]]:
        return await asyncio.to_thread(self._marks, topic)

    def _members(self, group: str, topic: str) -> dict[int, str]:
        with self._lock:
            if self._admin is None:
                hosts = self.settings.kafka_hosts
                self._admin = AdminClient({"bootstrap.servers": hosts}, logger=kafka_logger())
            futures = self._admin.describe_consumer_groups([group], request_timeout=KAFKA_TIMEOUT_S)
            described = futures[group].result(timeout=KAFKA_TIMEOUT_S + 1)
        owners: dict[int, str] = {}
        for member in described.members:
            for tp in member.assignment.topic_partitions:
                if tp.topic == topic:
                    owners[tp.partition] = f"{member.client_id} ({member.host.strip('/')})"
        return owners

    async def members(self, group: str, topic: str) -> dict[int, str]:
        """Partition -> member of the intake group; empty when Kafka cannot say (the page
        still shows the lag)."""
        try:
            return await asyncio.to_thread(self._members, group, topic)
        except (KafkaException, TimeoutError, KeyError):
            return {}

    def close(self) -> None:
        with self._lock:
            for reader in self._readers.values():
                reader.close()
            self._readers.clear()
