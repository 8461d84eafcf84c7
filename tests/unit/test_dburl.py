"""Passwords never reach logs, errors or /_ready; every connection has its limits."""

from __future__ import annotations

import psycopg

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
    assert limits.options() == " -c statement_timeout=2500 -c lock_timeout=1000"
    kwargs = limits.connect_kwargs()
    assert kwargs["connect_timeout"] == 3 and kwargs["keepalives"] == 1
    assert limits.call_timeout_s > limits.statement_timeout_s
