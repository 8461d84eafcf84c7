"""Passwords never reach logs, errors or /_ready; every connection has its limits."""

from __future__ import annotations

import psycopg
import pytest

from jobline.config import SchemaFrom, load_settings
from jobline.dburl import DbLimits, error_text, mask_secrets, redact, unreachable_message


def test_a_url_password_is_masked_and_the_rest_kept() -> None:
    url = "postgresql://jobs:s3cr%40t@db.internal:5432/jobs?sslmode=require"
    assert redact(url) == "postgresql://jobs:***@db.internal:5432/jobs?sslmode=require"


def test_a_key_value_password_is_masked() -> None:
    masked = redact("host=db user=jobs password='p w' dbname=jobs")
    assert "p w" not in masked and "password=***" in masked and "host=db" in masked


def test_a_conninfo_without_password_is_unchanged() -> None:
    assert redact("postgresql://postgres@127.0.0.1/x") == "postgresql://postgres@127.0.0.1/x"


def test_a_password_inside_an_error_text_is_masked_raw_and_url_encoded() -> None:
    url = "postgresql://jobs:s3cr%40t@db/jobs"
    text = "failed for postgresql://jobs:s3cr%40t@db/jobs (s3cr@t)"
    assert mask_secrets(text, url) == "failed for postgresql://jobs:***@db/jobs (***)"
    error = psycopg.OperationalError("password s3cr@t refused")
    assert error_text(error, url) == "password *** refused"
    assert "s3cr" not in unreachable_message("the jobs DB", "X", url, error)


def test_limits_set_server_timeouts_and_client_keepalives() -> None:
    limits = DbLimits(connect_timeout_s=3, statement_timeout_s=2.5, lock_timeout_s=1)
    assert limits.options() == " -c statement_timeout=2500 -c lock_timeout=1000 -c jit=off"
    kwargs = limits.connect_kwargs()
    assert kwargs["connect_timeout"] == 3 and kwargs["keepalives"] == 1
    assert limits.call_timeout_s > limits.statement_timeout_s


def test_by_default_a_connection_sends_its_options_and_may_prepare_statements() -> None:
    limits = DbLimits(application_name="jobline-jobs")
    kwargs = limits.connect_kwargs(limits.session_options("jobline"))
    assert kwargs["options"].startswith("-c search_path=jobline -c statement_timeout=")
    assert kwargs["application_name"] == "jobline-jobs"
    assert "prepare_threshold" not in kwargs


def test_behind_a_pooler_no_connection_sends_options_or_prepares() -> None:
    """PgBouncer refuses the `options` startup parameter and mixes prepared statements up."""
    limits = DbLimits(prepared_statements=False, schema_from=SchemaFrom.ROLE)
    kwargs = limits.connect_kwargs(limits.session_options("jobline", " -c enable_sort=off"))
    assert "options" not in kwargs
    assert kwargs["prepare_threshold"] is None
    assert "options" not in limits.connect_kwargs(limits.options())


def test_the_pooler_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBLINE_DB_PREPARED_STATEMENTS", "false")
    monkeypatch.setenv("JOBLINE_DB_SCHEMA_FROM", "role")
    limits = DbLimits.from_settings(load_settings(), "jobline-cli")
    assert (limits.prepared_statements, limits.schema_from) == (False, "role")
    assert limits.application_name == "jobline-cli"


def test_the_direct_urls_default_to_the_pooled_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBLINE_JOBS_DATABASE_URL", "postgresql://u@pooler:6432/jobs")
    monkeypatch.setenv("JOBLINE_DATABASE_DIRECT_URL", "postgresql://u@db:5432/main")
    monkeypatch.delenv("JOBLINE_JOBS_DATABASE_DIRECT_URL", raising=False)
    settings = load_settings()
    assert settings.jobs_direct_url == "postgresql://u@pooler:6432/jobs"
    assert settings.main_direct_url == "postgresql://u@db:5432/main"


def test_a_refused_options_parameter_names_the_pooler_settings() -> None:
    error = psycopg.OperationalError("FATAL:  unsupported startup parameter: options")
    message = unreachable_message(
        "the jobs DB", "JOBLINE_JOBS_DATABASE_URL", "postgresql://h/j", error
    )
    assert "JOBLINE_DB_SCHEMA_FROM=role" in message
    assert "JOBLINE_DB_PREPARED_STATEMENTS=false" in message
