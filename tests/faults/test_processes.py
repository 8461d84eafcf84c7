"""Scenarios 5 and 6 of issue 6: a rolling restart of three jobs servers, and a runner
SIGKILLed with jobs in flight."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable

from tests.faults.harness import Scenario, query
from tests.integration.helpers import ServeProcess, wait_until

MakeScenario = Callable[[str], Scenario]
KILLED_CONCURRENCY = 10


def test_rolling_restart_of_three_servers_loses_nothing_and_runs_nothing_twice(
    scenario: MakeScenario,
) -> None:
    s = scenario("5 rolling restart of 3 jobs servers")
    s.serve(3)
    s.load.job_type, s.load.payload = "record_slow", {"sleep": 0.3}
    s.load.start()
    wait_until(lambda: len(s.load.acknowledged) >= 100, 30, "the load did not start")
    for old in list(s.servers):  # what `kubectl rollout restart` does, one pod at a time
        (replacement,) = s.serve()
        assert old.stop(signal.SIGTERM) == 0, old.logs()[-3000:]
        s.servers.remove(old)
        assert replacement.proc.poll() is None
    result = s.finish(s.recovery(time.monotonic()))
    assert (result.lost, result.twice) == (0, 0), result


def _held_by(s: Scenario, server: ServeProcess) -> set[int]:
    """Ids of the jobs locked by `server`'s runner (its row outlives a SIGKILL)."""
    schema = s.settings.schema_name
    rows = query(
        s.settings.jobs_database_url,
        f"SELECT j.id FROM {schema}.jobs j JOIN {schema}.runners r ON j.locked_by = r.id "
        f"WHERE r.pid = {server.proc.pid}",
    )
    return {int(row[0]) for row in rows or []}


def _ran(s: Scenario, job_ids: set[int]) -> bool:
    rows = query(
        s.env["JOBLINE_DATABASE_URL"],
        f"SELECT DISTINCT job_id FROM {s.runs_table} WHERE outcome = 'ok'",
    )
    return rows is not None and job_ids <= {int(row[0]) for row in rows}


def test_runner_sigkilled_with_jobs_in_flight_loses_none(scenario: MakeScenario) -> None:
    s = scenario("6 runner SIGKILLed with jobs in flight")
    victim, survivor = s.serve(2, JOBLINE_RUNNER_CONCURRENCY=str(KILLED_CONCURRENCY))
    s.load.job_type, s.load.payload = "record_slow", {"sleep": 1}
    s.load.batch, s.load.every_s = 2, 0.2  # 10 jobs/s: the survivor alone keeps up
    s.load.start()
    wait_until(lambda: len(_held_by(s, victim)) >= 5, 30, "the victim took no jobs")
    victim.kill()  # SIGKILL: no hand-back, no outcome written, the heartbeat just stops
    killed_at = time.monotonic()
    held = _held_by(s, victim)
    # recovery: until every job the victim held has run (rescued after the dead-after window)
    wait_until(lambda: _ran(s, held), 60, f"the victim's jobs {held} were not rescued")
    result = s.finish(time.monotonic() - killed_at)
    assert survivor.proc.poll() is None, survivor.logs()[-3000:]
    assert result.lost == 0, result
    # only a job whose handler finished before the kill, outcome unwritten, runs again
    assert result.twice <= len(held), result
