"""Telling a value the jobs DB refuses (the message's fault) from an outage."""

from __future__ import annotations

import psycopg
import psycopg_pool
import pytest
from psycopg import errors

from jobline.store.refusals import is_connection_error, is_message_fault


@pytest.mark.parametrize(
    "sqlstate",
    [
        "22P05",  # untranslatable character: a NUL in jsonb text
        "22P02",  # invalid text representation: a lone surrogate escape in JSON
        "22003",  # numeric value out of range
        "23505",  # unique violation
        "54000",  # program limit exceeded: an index row too big
    ],
)
def test_data_constraint_and_limit_errors_are_the_message_s_fault(sqlstate: str) -> None:
    assert is_message_fault(errors.lookup(sqlstate)("refused"))


@pytest.mark.parametrize(
    "sqlstate",
    [
        "08006",  # connection failure
        "57P01",  # admin shutdown
        "57014",  # query canceled: our own statement timeout
        "53300",  # too many connections
        "40001",  # serialization failure
        "40P01",  # deadlock
        "55P03",  # lock not available
        "42P01",  # undefined table: our schema, not the message
    ],
)
def test_connection_resource_lock_and_schema_errors_are_not(sqlstate: str) -> None:
    assert not is_message_fault(errors.lookup(sqlstate)("down"))


def test_a_value_psycopg_refuses_before_sending_is_the_message_s_fault() -> None:
    assert is_message_fault(psycopg.DataError("PostgreSQL text fields cannot contain NUL"))


def test_a_lost_connection_or_a_pool_timeout_is_not() -> None:
    assert not is_message_fault(psycopg.OperationalError("connection lost"))
    assert not is_message_fault(psycopg_pool.PoolTimeout("no connection in 30 s"))
    assert not is_message_fault(TimeoutError())


@pytest.mark.parametrize(
    "error",
    [
        psycopg.OperationalError("server closed the connection unexpectedly"),
        errors.lookup("08006")("connection failure"),
        errors.lookup("57P01")("terminating connection due to administrator command"),
        psycopg_pool.PoolTimeout("couldn't get a connection after 30 s"),
        ConnectionRefusedError(111, "refused"),
    ],
)
def test_lost_refused_or_shut_down_connections_are_the_jobs_db_out_of_reach(
    error: BaseException,
) -> None:
    assert is_connection_error(error)


@pytest.mark.parametrize("sqlstate", ["22P05", "57014", "40001", "53300", "42P01"])
def test_an_answer_with_an_error_is_not_the_jobs_db_out_of_reach(sqlstate: str) -> None:
    assert not is_connection_error(errors.lookup(sqlstate)("answered"))
