"""Triggers to the intake: Kafka (production) or straight into the jobs DB (`direct`)."""

from jobline.producer.base import JobProducer
from jobline.producer.factory import build_producer

__all__ = ["JobProducer", "build_producer"]
