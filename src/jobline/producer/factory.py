"""Build the producer the settings ask for."""

from __future__ import annotations

from jobline.config import IntakeKind, Settings
from jobline.dburl import DbLimits
from jobline.producer.base import JobProducer
from jobline.producer.direct import DirectJobProducer
from jobline.producer.kafka import KafkaJobProducer


def build_producer(settings: Settings, limits: DbLimits | None = None) -> JobProducer:
    """`limits`: the connection set-up of the direct intake's pool (default: the settings',
    named after the Python API)."""
    if settings.intake is IntakeKind.DIRECT:
        return DirectJobProducer(
            settings.jobs_database_url,
            settings.schema_name,
            settings.max_message_bytes,
            settings.produce_timeout_s,
            limits or DbLimits.from_settings(settings, "jobline-api-client"),
        )
    return KafkaJobProducer(
        settings.kafka_hosts,
        settings.jobs_topic,
        settings.max_message_bytes,
        settings.produce_timeout_s,
    )
