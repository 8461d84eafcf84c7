"""Operator switches seen by a running `jobline serve`: skip at the intake, drain a runner."""

from __future__ import annotations

import time
import urllib.request

from jobline import Jobs
from jobline.config import Settings

from .helpers import ServeProcess, scalar, wait_until
from .ops_helpers import add_config, cli, insert_job, ops, sql

__all__ = ["ops"]


def _skipped_count(server: ServeProcess) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line.startswith('jobline_intake_messages_total{result="skipped"}'):
                return float(line.split()[-1])
    return 0.0


def test_a_config_skipped_while_the_intake_runs_has_its_triggers_dropped(
    env: dict[str, str], ops: Settings, runs_table: str
) -> None:
    config = add_config()
    url = env["JOBLINE_DATABASE_URL"]
    server = ServeProcess(env, "--mode", "jobs")
    try:
        server.wait_ready()
        with Jobs.from_settings(ops) as jobs:
            jobs.for_config(config, team_id=42).record({"n": 1}).run_now()
            wait_until(
                lambda: scalar(url, f"SELECT count(*) FROM {runs_table}") == 1, 30, "not run"
            )
            assert cli("configs", "skip", str(config)).code == 0
            time.sleep(5.5)  # the intake re-reads the skip list every 5 s
            jobs.for_config(config, team_id=42).record({"n": 2}).run_now()
            wait_until(lambda: _skipped_count(server) == 1, 30, "the trigger was not skipped")
        assert scalar(url, f"SELECT count(*) FROM {runs_table}") == 1
        stored = sql(ops.jobs_database_url, ops.schema_name, "SELECT count(*) FROM jobs")
        assert stored == [(0,)]
    finally:
        assert server.stop() == 0


def test_a_drained_runner_stops_fetching_due_jobs(
    env: dict[str, str], ops: Settings, runs_table: str
) -> None:
    config = add_config()
    fast = {**env, "JOBLINE_RUNNER_HEARTBEAT_S": "0.5", "JOBLINE_RUNNER_POLL_INTERVAL_S": "0.5"}
    server = ServeProcess(fast, "--mode", "jobs")
    try:
        server.wait_ready()
        [runner] = cli("runners", "list", "--json").json()
        assert cli("runners", "drain", runner["id"], "--yes").code == 0
        wait_until(lambda: bool(server.events("runner.draining")), 15, "runner not draining")
        job_id = insert_job(ops, config)
        time.sleep(3)  # six polls: an undrained runner would have run it
        rows = sql(ops.jobs_database_url, ops.schema_name, "SELECT id, locked_by FROM jobs")
        assert rows == [(job_id, None)]
        assert scalar(env["JOBLINE_DATABASE_URL"], f"SELECT count(*) FROM {runs_table}") == 0
        listed = cli("runners", "list", "--json").json()
        assert listed[0]["drain_requested_at"] is not None
    finally:
        assert server.stop() == 0
