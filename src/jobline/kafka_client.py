"""The librdkafka settings every Kafka client of jobline shares: TLS and SASL.

Each construction site (the trigger producer, the intake consumer, the DLQ producer)
adds `**kafka_client_config()` to its own settings, so that a secured cluster needs
nothing but the JOBLINE_KAFKA_* variables.
"""

from __future__ import annotations

from jobline.config import Settings, load_settings


def kafka_client_config(settings: Settings | None = None) -> dict[str, str]:
    """librdkafka properties for the security settings (read from the env if not given)."""
    s = settings if settings is not None else load_settings()
    config = {"security.protocol": s.kafka_security_protocol.lower()}
    if s.kafka_sasl_mechanism:
        config["sasl.mechanism"] = s.kafka_sasl_mechanism
    if s.kafka_sasl_username:
        config["sasl.username"] = s.kafka_sasl_username
    password = s.kafka_sasl_password.get_secret_value()
    if password:
        config["sasl.password"] = password
    if s.kafka_ssl_ca_location:
        config["ssl.ca.location"] = s.kafka_ssl_ca_location
    return config
