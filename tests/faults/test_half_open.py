"""Scenario 4 of issue 6: a half-open connection (Toxiproxy's `timeout` toxic, timeout 0:
bytes stop both ways, no FIN, no RST) to the jobs DB and to Kafka."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from tests.faults.harness import Scenario
from tests.faults.instance import INSTANCE_ENV, KAFKA_VIA_PROXY, PG_VIA_PROXY, Toxiproxy
from tests.integration.helpers import wait_until

MakeScenario = Callable[[str], Scenario]
HALF_OPEN_S = 6


@pytest.fixture
def toxiproxy() -> Iterator[Toxiproxy]:
    proxy = Toxiproxy()
    proxy.proxy("jobs_db", PG_VIA_PROXY, f"127.0.0.1:{INSTANCE_ENV['JOBLINE_PG_PORT']}")
    upstream = f"127.0.0.1:{INSTANCE_ENV['JOBLINE_KAFKA_PROXIED_PORT']}"
    proxy.proxy("kafka", KAFKA_VIA_PROXY, upstream)
    yield proxy
    proxy.remove("jobs_db")
    proxy.remove("kafka")


def _half_open_under_load(s: Scenario, toxiproxy: Toxiproxy, link: str) -> None:
    s.load.start()
    wait_until(lambda: len(s.load.acknowledged) >= 150, 30, "the load did not start")
    toxiproxy.half_open(link)
    time.sleep(HALF_OPEN_S)
    toxiproxy.heal(link)
    result = s.finish(s.recovery(time.monotonic(), timeout_s=90))
    for server in s.servers:
        assert server.proc.poll() is None, f"a server exited:\n{server.logs()[-3000:]}"
    assert (result.lost, result.twice) == (0, 0), result
    # the toxic did stall the pipeline (or this test would prove nothing)
    assert s.longest_pause_s() >= HALF_OPEN_S / 2, f"no pause in the runs: {link} not faulted?"


def test_half_open_jobs_db_connection_recovers_and_loses_nothing(
    scenario: MakeScenario, toxiproxy: Toxiproxy
) -> None:
    s = scenario("4 half-open connection to the jobs DB")
    jobs_db_via_proxy = s.settings.jobs_database_url.replace(
        f"127.0.0.1:{INSTANCE_ENV['JOBLINE_PG_PORT']}", PG_VIA_PROXY
    )
    s.serve(JOBLINE_JOBS_DATABASE_URL=jobs_db_via_proxy)
    _half_open_under_load(s, toxiproxy, "jobs_db")


def test_half_open_kafka_connection_recovers_and_loses_nothing(
    scenario: MakeScenario, toxiproxy: Toxiproxy
) -> None:
    s = scenario("4 half-open connection to Kafka")
    s.serve(JOBLINE_KAFKA_HOSTS=KAFKA_VIA_PROXY)  # the server's intake; triggers go direct
    _half_open_under_load(s, toxiproxy, "kafka")
