"""Scenario 3 of issue 6: another client exhausts the jobs DB's connections, or holds locks."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

import psycopg

from tests.faults.harness import Scenario
from tests.integration.helpers import wait_until

MakeScenario = Callable[[str], Scenario]
HOLD_S = 5


def _grab_every_connection(url: str) -> list[psycopg.Connection]:
    """Open connections until PostgreSQL refuses one (max_connections, reserved slots too)."""
    held: list[psycopg.Connection] = []
    while len(held) < 400:
        try:
            held.append(psycopg.connect(url, autocommit=True, connect_timeout=3))
        except psycopg.OperationalError:
            return held
    raise AssertionError("PostgreSQL accepted 400 connections: max_connections was not reached")


def _servers_alive(s: Scenario) -> None:
    for server in s.servers:
        assert server.proc.poll() is None, f"a server exited:\n{server.logs()[-3000:]}"


def test_jobs_db_connections_exhausted_loses_nothing(scenario: MakeScenario) -> None:
    s = scenario("3 jobs DB connections exhausted")
    s.serve()
    s.load.start()
    wait_until(lambda: len(s.load.acknowledged) >= 150, 30, "the load did not start")
    held = _grab_every_connection(s.settings.jobs_database_url)
    try:
        time.sleep(HOLD_S)
    finally:
        for conn in held:
            with contextlib.suppress(Exception):
                conn.close()
    result = s.finish(s.recovery(time.monotonic()))
    _servers_alive(s)
    assert (result.lost, result.twice) == (0, 0), result


def test_long_transaction_holding_row_locks_delays_but_loses_nothing(
    scenario: MakeScenario,
) -> None:
    s = scenario("3 long transaction holding row locks")
    s.serve()
    schema = s.settings.schema_name
    s.load.trigger(50, in_s=3)  # rows to lock before they are due
    wait_until(lambda: s.queued() >= 50, 30, "the jobs did not reach the jobs DB")
    s.load.start()
    with psycopg.connect(s.settings.jobs_database_url) as blocker:
        # the queued jobs and the intake's offset rows, as a stuck admin session would
        blocker.execute(f"SELECT id FROM {schema}.jobs FOR UPDATE")
        blocker.execute(f"SELECT * FROM {schema}.intake_offsets FOR UPDATE")
        time.sleep(HOLD_S)
        blocker.rollback()
    result = s.finish(s.recovery(time.monotonic()))
    _servers_alive(s)
    assert (result.lost, result.twice) == (0, 0), result
