"""Messages that cannot become jobs go to the DLQ topic, with why and where they came from.

The DLQ can always take what it is given: a value over the limit is cut to it (headers
`truncated`, `original_size` and `original_sha256` say what was lost), and so are an
over-long key and over-long header values. Nothing here refuses a message.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from confluent_kafka import KafkaError, Message

from jobline.intake.batch import Rejected
from jobline.logs import get_logger
from jobline.metrics import INTAKE_DLQ
from jobline.producer.kafka import reliable_producer

#: a header value (the error text above all) is cut to this many bytes
HEADER_VALUE_BYTES = 2000
#: a key is cut to this many bytes (the DLQ's key only spreads it over partitions)
KEY_BYTES = 1024
#: room beside the value for the key, at most 10 headers and the record's own overhead
ENVELOPE_BYTES = 24 * 1024
#: the value limit never goes below this, whatever the DLQ topic says
MIN_VALUE_BYTES = 1024


log = get_logger("jobline.intake")

DeliveryReport = Callable[[KafkaError | None, Message], None]


class DlqUnavailable(Exception):
    pass


@dataclass(frozen=True)
class DlqRecord:
    """One DLQ message, ready to produce."""

    value: bytes | None
    key: bytes | None
    headers: list[tuple[str, bytes]]


def _cut(data: bytes, limit: int) -> bytes:
    # Never end inside a UTF-8 sequence: a cut text header stays readable text.
    return data[:limit].decode("utf-8", "ignore").encode() if len(data) > limit else data


def dlq_record(item: Rejected, max_value_bytes: int) -> DlqRecord:
    """The DLQ message for one rejected message, cut to fit under the limits."""
    msg = item.message
    texts = [
        ("reason", item.error.reason),
        ("error", item.error.detail),
        ("source_topic", msg.topic),
        ("source_partition", str(msg.partition)),
        ("source_offset", str(msg.offset)),
    ]
    if item.sqlstate is not None:
        texts.append(("sqlstate", item.sqlstate))
    cut: list[str] = []
    headers: list[tuple[str, bytes]] = []
    for name, text in texts:
        # backslashreplace: an error text may quote a lone surrogate it was given.
        raw = text.encode("utf-8", "backslashreplace")
        if len(raw) > HEADER_VALUE_BYTES:
            cut.append(name)
        headers.append((name, _cut(raw, HEADER_VALUE_BYTES)))
    value, key = msg.value, msg.key
    if value is not None and len(value) > max_value_bytes:
        cut.append("value")
        headers += [
            ("original_size", str(len(value)).encode()),
            ("original_sha256", hashlib.sha256(value).hexdigest().encode()),
        ]
        value = value[:max_value_bytes]
    if key is not None and len(key) > KEY_BYTES:
        cut.append("key")
        headers.append(("original_key_size", str(len(key)).encode()))
        key = key[:KEY_BYTES]
    if cut:
        headers.append(("truncated", ",".join(cut).encode()))
    return DlqRecord(value, key, headers)


class DeadLetterQueue:
    def __init__(self, hosts: str, topic: str, max_message_bytes: int, timeout_s: float) -> None:
        self.topic = topic
        self.max_value_bytes = max_message_bytes
        self._timeout_s = timeout_s
        self._producer = reliable_producer(
            hosts, "jobline-intake-dlq", max_message_bytes, timeout_s
        )

    def fit_topic(self, topic_max_bytes: int) -> None:
        """Cut values to fit the DLQ topic's own max.message.bytes when it is the lower."""
        room = max(MIN_VALUE_BYTES, topic_max_bytes - ENVELOPE_BYTES)
        if room < self.max_value_bytes:
            log.warning(
                "intake.dlq_limit_lowered",
                topic=self.topic,
                topic_max_message_bytes=topic_max_bytes,
                value_limit=room,
                detail="DLQ values over this are cut; raise the topic's max.message.bytes "
                "to keep them whole",
            )
            self.max_value_bytes = room

    def send(self, rejected: Sequence[Rejected]) -> None:
        """Produce and wait for every delivery: the intake commits past them only after.

        Bounded: librdkafka gives up on a message after `timeout_s`, and so does this."""
        if not rejected:
            return
        errors: list[KafkaError] = []
        lock = threading.Lock()

        def report(err: KafkaError | None, _msg: Message) -> None:
            if err is not None:
                with lock:
                    errors.append(err)

        deadline = time.monotonic() + self._timeout_s + 5
        for item in rejected:
            record = dlq_record(item, self.max_value_bytes)
            self._produce(record, report, deadline)
        left = self._producer.flush(max(0.0, deadline - time.monotonic()))
        if left or errors:
            raise DlqUnavailable(
                f"{left} DLQ message(s) undelivered to topic {self.topic!r}, "
                f"errors: {[str(e) for e in errors[:3]]}"
            )
        for item in rejected:
            INTAKE_DLQ.labels(item.error.reason).inc()

    def _produce(self, record: DlqRecord, report: DeliveryReport, deadline: float) -> None:
        while True:
            try:
                self._producer.produce(
                    self.topic,
                    record.value,
                    record.key,
                    headers=list(record.headers),
                    on_delivery=report,
                )
                return
            except BufferError:
                # The local queue is full: let deliveries drain it, up to the deadline.
                if time.monotonic() > deadline:
                    raise DlqUnavailable(
                        f"the DLQ producer's queue stayed full for {self._timeout_s + 5:g} s"
                    ) from None
                self._producer.poll(0.05)

    def close(self) -> None:
        self._producer.flush(self._timeout_s)
