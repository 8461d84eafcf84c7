"""Scenario 3, intake alone: N triggers already in the topic, then one jobline server with
the intake only (JOBLINE_CAPABILITIES=intake,http: nothing runs them); time until all are
persisted, and the server's peak RSS (scenario 5)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import psycopg

from benchmarks.isolated import chunks, isolated_run, make_jobs
from benchmarks.peers.procs import Proc, wait_until
from benchmarks.peers.systems import System
from jobline import Jobs
from tests.devenv import ROOT


def run_intake_alone(jobline: System, n: int, logs: Path) -> dict[str, float]:
    env = {**jobline.base_env, "JOBLINE_JOBS_DATABASE_URL": jobline.db_url}
    with isolated_run(env, logs, "intake_alone") as ctx:
        producer = Jobs.from_settings(ctx.settings())
        try:
            for part in chunks(make_jobs(n, ctx.config_id), 10_000):
                producer.send(part)
        finally:
            producer.close()
        server_env = {
            **ctx.env,
            "JOBLINE_CAPABILITIES": "intake,http",
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",
        }
        cmd = [sys.executable, "-m", "jobline.cli", "serve"]
        offsets_sql = (
            f"SELECT coalesce(sum(greatest(next_offset, 0)), 0) FROM {ctx.schema}.intake_offsets"
            f" WHERE consumer_group = '{ctx.group}' AND topic = '{ctx.jobs_topic}'"
        )
        with psycopg.connect(jobline.db_url, autocommit=True) as conn:

            def persisted() -> int:
                row = conn.execute(offsets_sql.encode()).fetchone()
                return int(row[0]) if row else 0

            proc = Proc("jobline intake", cmd, server_env, logs / "intake_alone.log")
            try:
                t_spawn = time.perf_counter()
                t_first = wait_until("first batch persisted", lambda: persisted() > 0, [proc], 120)
                t_all = wait_until(
                    "all persisted", lambda: persisted() >= n, [proc], max(120, n / 500), 0.05
                )
                rss = proc.peak_rss_mib()
            finally:
                proc.stop()
    return {
        "intake_rate": n / (t_all - t_first),
        "intake_wall_rate": n / (t_all - t_spawn),
        "peak_rss_mib": rss,
    }
