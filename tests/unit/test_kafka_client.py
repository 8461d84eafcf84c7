"""Kafka TLS/SASL settings reach every Kafka client jobline builds."""

from __future__ import annotations

import pytest

from jobline.config import load_settings
from jobline.kafka_client import kafka_client_config


def test_plaintext_by_default_with_no_sasl() -> None:
    assert kafka_client_config(load_settings()) == {"security.protocol": "plaintext"}


def test_sasl_ssl_settings_become_librdkafka_properties(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBLINE_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("JOBLINE_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("JOBLINE_KAFKA_SASL_USERNAME", "jobs")
    monkeypatch.setenv("JOBLINE_KAFKA_SASL_PASSWORD", "pw")
    monkeypatch.setenv("JOBLINE_KAFKA_SSL_CA_LOCATION", "/etc/ca.pem")
    settings = load_settings()
    assert kafka_client_config() == {
        "security.protocol": "sasl_ssl",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "jobs",
        "sasl.password": "pw",
        "ssl.ca.location": "/etc/ca.pem",
    }
    assert "pw" not in repr(settings)  # the password never shows in a settings dump


def test_an_unknown_security_protocol_is_refused_at_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JOBLINE_KAFKA_SECURITY_PROTOCOL", "tls")
    with pytest.raises(Exception, match="JOBLINE_KAFKA_SECURITY_PROTOCOL"):
        load_settings()
