"""`jobline status`: the path on one screen, read from Kafka and the jobs DB."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

from jobline import JobMessage
from jobline.store import JobsDB

from .doctor_support import closed_port, job_message, jobline_json, produce
from .helpers import ROOT, ServeProcess, add_config, wait_until


async def test_status_shows_lag_per_partition_jobs_and_dlq_without_an_intake(
    env: dict[str, str], jobs_db: JobsDB
) -> None:
    hosts = env["JOBLINE_KAFKA_HOSTS"]
    produce(hosts, env["JOBLINE_JOBS_TOPIC"], [job_message()] * 6)
    produce(hosts, env["JOBLINE_DLQ_TOPIC"], [b"not json"] * 3)
    due = datetime.now(UTC) - timedelta(seconds=1)
    later = datetime.now(UTC) + timedelta(hours=1)
    await jobs_db.insert_jobs(
        [
            JobMessage.create(type="a", payload={}, plugin_config_id=1, team_id=1, run_at=when)
            for when in (due, due, later)
        ]
    )
    run = jobline_json(env, "status")
    status = run.report
    assert run.exit_code == 0
    assert len(status["partitions"]) == 8
    assert status["lag"] == 6
    assert all(p["stored_offset"] is None for p in status["partitions"])
    assert status["intake"]["members"] == []
    assert status["jobs"]["due"] == 2
    assert status["jobs"]["scheduled"] == 1
    assert status["jobs"]["live_runners"] == 0
    assert status["jobs"]["oldest_due_age_s"] >= 1
    assert status["dlq"]["size"] == 3
    assert status["errors"] == {}


def test_status_shows_the_intake_caught_up_with_its_member_and_a_live_runner(
    env: dict[str, str],
) -> None:
    add_config(env)
    server = ServeProcess(env, "--mode", "jobs")
    try:
        server.wait_ready()
        produce(env["JOBLINE_KAFKA_HOSTS"], env["JOBLINE_JOBS_TOPIC"], [job_message()] * 10)
        found: dict[str, object] = {}

        def caught_up() -> bool:
            found.update(jobline_json(env, "status").report)
            stored = [p["stored_offset"] or 0 for p in found["partitions"]]  # type: ignore[attr-defined]
            return found["lag"] == 0 and sum(stored) == 10

        wait_until(caught_up, 40, "the intake did not catch up", interval_s=1)
        members = found["intake"]["members"]  # type: ignore[index]
        assert len(members) == 1
        assert members[0]["client_id"] == "jobline-intake"
        assert found["jobs"]["live_runners"] == 1  # type: ignore[index]
        persisted = [p for p in found["partitions"] if p["stored_offset"]]  # type: ignore[attr-defined]
        assert all(p["last_persisted_age_s"] is not None for p in persisted)
    finally:
        assert server.stop() == 0


def test_status_exits_4_and_names_kafka_when_kafka_is_unreachable(env: dict[str, str]) -> None:
    run = jobline_json({**env, "JOBLINE_KAFKA_HOSTS": f"127.0.0.1:{closed_port()}"}, "status")
    assert run.exit_code == 4
    assert "Kafka is not running" in run.report["errors"]["kafka"]


def test_status_watch_prints_one_sample_per_interval_with_a_dlq_rate(
    env: dict[str, str],
) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "jobline.cli", "status", "--json", "--watch", "1"],
        env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    try:
        first = json.loads(proc.stdout.readline())
        produce(env["JOBLINE_KAFKA_HOSTS"], env["JOBLINE_DLQ_TOPIC"], [b"x"] * 4)
        samples = [json.loads(proc.stdout.readline()) for _ in range(2)]
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(10)
    assert first["dlq"]["size"] == 0
    assert samples[-1]["dlq"]["size"] == 4
    assert any((s["dlq"]["rate_per_s"] or 0) > 0 for s in samples)


def test_top_draws_the_live_view_until_interrupted(env: dict[str, str]) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "jobline.cli", "top", "--interval", "1"],
        env={**os.environ, **env, "PYTHONPATH": str(ROOT), "COLUMNS": "120"},
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    time.sleep(5)  # start-up and a few frames (off a terminal, the last frame is printed)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=15)
    assert proc.returncode == 0
    assert env["JOBLINE_JOBS_TOPIC"] in out
    assert "high watermark" in out
