"""Fault scenarios use the integration fixtures (real PostgreSQL and Kafka)."""

from tests.integration.conftest import (  # noqa: F401 - fixtures
    env,
    kafka_topics,
    runs_table,
    services_env,
    settings,
    test_id,
)
