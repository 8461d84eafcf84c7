"""Kafka producer of job messages: idempotent, acks=all, key = team id."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from jobline.errors import IntakeUnavailable
from jobline.job import JobMessage
from jobline.kafka_client import kafka_client_config
from jobline.logs import kafka_logger
from jobline.metrics import JOBS_REFUSED, JOBS_TRIGGERED
from jobline.producer.base import encode_all

# Key and headers travel beside the value; leave them room under librdkafka's own limit.
_ENVELOPE_BYTES = 64 * 1024


def reliable_producer(
    hosts: str, client_id: str, max_message_bytes: int, timeout_s: float, compression: str = "none"
) -> Producer:
    """An idempotent, acks=all librdkafka producer that gives up on a message after
    `timeout_s` (its delivery report then carries the error)."""
    return Producer(
        {
            "bootstrap.servers": hosts,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            "compression.type": compression,
            "message.max.bytes": max_message_bytes + _ENVELOPE_BYTES,
            "message.timeout.ms": int(timeout_s * 1000),
            "client.id": client_id,
            **kafka_client_config(),
        },
        logger=kafka_logger(),
    )


class _Delivery:
    """Counts the delivery reports of one send() and keeps the first error."""

    def __init__(self, expected: int, on_done: Callable[[], None]) -> None:
        self._left = expected
        self._lock = threading.Lock()
        self._on_done = on_done
        self.error: KafkaError | None = None

    def report(self, err: KafkaError | None, _msg: Message) -> None:
        with self._lock:
            if err is not None and self.error is None:
                self.error = err
            self._left -= 1
            done = self._left == 0
        if done:
            self._on_done()


class KafkaJobProducer:
    def __init__(self, hosts: str, topic: str, max_message_bytes: int, timeout_s: float) -> None:
        self._hosts = hosts
        self._topic = topic
        self._max_bytes = max_message_bytes
        self._timeout_s = timeout_s
        self._producer = reliable_producer(
            hosts, "jobline-producer", max_message_bytes, timeout_s, compression="lz4"
        )
        self._closed = threading.Event()
        # Delivery reports arrive only while someone polls; one thread does it for all
        # callers, sync and async alike.
        self._poller = threading.Thread(
            target=self._poll_loop, name="kafka-producer-poll", daemon=True
        )
        self._poller.start()

    def _poll_loop(self) -> None:
        while not self._closed.is_set():
            self._producer.poll(0.1)

    def _encode_all(self, jobs: Sequence[JobMessage]) -> list[tuple[bytes, bytes]]:
        values = encode_all(jobs, self._max_bytes)
        return [(job.kafka_key, value) for job, value in zip(jobs, values, strict=True)]

    def _produce_all(self, encoded: list[tuple[bytes, bytes]], delivery: _Delivery) -> None:
        for key, value in encoded:
            while True:
                try:
                    self._producer.produce(self._topic, value, key, on_delivery=delivery.report)
                    break
                except BufferError:
                    # librdkafka's local queue is full: let deliveries drain it.
                    self._producer.poll(0.05)

    def _unavailable(self, error: Any) -> IntakeUnavailable:
        JOBS_REFUSED.labels("intake_unavailable").inc()
        return IntakeUnavailable(
            f"Kafka at {self._hosts} did not accept the job(s) on topic {self._topic!r} "
            f"within {self._timeout_s:g} s (JOBLINE_PRODUCE_TIMEOUT_S): {error}; check that "
            "Kafka is up and JOBLINE_KAFKA_HOSTS is right (`jobline doctor`). The job was "
            "not queued: trigger it again once Kafka answers"
        )

    def send(self, jobs: Sequence[JobMessage]) -> None:
        if not jobs:
            return
        encoded = self._encode_all(jobs)
        done = threading.Event()
        delivery = _Delivery(len(encoded), done.set)
        self._produce_all(encoded, delivery)
        if not done.wait(self._timeout_s + 5):
            raise self._unavailable("no delivery report")
        if delivery.error is not None:
            raise self._unavailable(delivery.error)
        JOBS_TRIGGERED.labels("kafka").inc(len(encoded))

    async def send_async(self, jobs: Sequence[JobMessage]) -> None:
        if not jobs:
            return
        encoded = self._encode_all(jobs)
        loop = asyncio.get_running_loop()
        done = loop.create_future()

        def resolve() -> None:
            if not done.done():
                done.set_result(None)

        def finish() -> None:
            loop.call_soon_threadsafe(resolve)

        delivery = _Delivery(len(encoded), finish)
        self._produce_all(encoded, delivery)
        try:
            await asyncio.wait_for(done, self._timeout_s + 5)
        except TimeoutError:
            raise self._unavailable("no delivery report") from None
        if delivery.error is not None:
            raise self._unavailable(delivery.error)
        JOBS_TRIGGERED.labels("kafka").inc(len(encoded))

    def close(self) -> None:
        self._closed.set()
        self._poller.join(timeout=2)
        self._producer.flush(self._timeout_s)
