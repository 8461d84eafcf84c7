"""Malformed messages go to the DLQ topic, with the reason and where they came from."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from confluent_kafka import KafkaError, Message

from jobline.intake.batch import Rejected
from jobline.metrics import INTAKE_DLQ
from jobline.producer.kafka import reliable_producer


class DlqUnavailable(Exception):
    pass


class DeadLetterQueue:
    def __init__(self, hosts: str, topic: str, max_message_bytes: int, timeout_s: float) -> None:
        self.topic = topic
        self._timeout_s = timeout_s
        self._producer = reliable_producer(
            hosts, "jobline-intake-dlq", max_message_bytes, timeout_s
        )

    def send(self, rejected: Sequence[Rejected]) -> None:
        """Produce and wait for every delivery: the intake commits past them only after."""
        if not rejected:
            return
        errors: list[KafkaError] = []
        lock = threading.Lock()

        def report(err: KafkaError | None, _msg: Message) -> None:
            if err is not None:
                with lock:
                    errors.append(err)

        for item in rejected:
            msg = item.message
            headers: list[tuple[str, str | bytes | None]] = [
                ("reason", item.error.reason.encode()),
                ("error", item.error.detail[:2000].encode()),
                ("source_topic", msg.topic.encode()),
                ("source_partition", str(msg.partition).encode()),
                ("source_offset", str(msg.offset).encode()),
            ]
            while True:
                try:
                    self._producer.produce(
                        self.topic, msg.value, msg.key, headers=headers, on_delivery=report
                    )
                    break
                except BufferError:
                    self._producer.poll(0.05)
        left = self._producer.flush(self._timeout_s + 5)
        if left or errors:
            raise DlqUnavailable(f"{left} undelivered, errors: {[str(e) for e in errors[:3]]}")
        for item in rejected:
            INTAKE_DLQ.labels(item.error.reason).inc()

    def close(self) -> None:
        self._producer.flush(self._timeout_s)
