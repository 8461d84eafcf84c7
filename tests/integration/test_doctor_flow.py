"""`jobline doctor` on the moving parts: healthy, intake stopped, no runner, DLQ growing."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from jobline import JobMessage
from jobline.store import JobsDB

from .doctor_support import doctor, job_message, produce
from .helpers import ServeProcess, add_config, wait_until

# Other engineers' tests share this PostgreSQL server: a transaction of theirs open for a
# minute must not make the healthy pipeline of this test look unhealthy.
SHARED_SERVER = ("--long-transaction", "600")


@pytest.fixture
def serving(env: dict[str, str]) -> Iterator[ServeProcess]:
    """`jobline serve --mode jobs`: intake in the group, a runner heartbeating."""
    add_config(env)
    server = ServeProcess(env, "--mode", "jobs")
    try:
        server.wait_ready()
        wait_until(lambda: bool(server.events("intake.assigned")), 30, "intake never assigned")
        yield server
    finally:
        assert server.stop() == 0


def test_doctor_says_ok_and_exits_0_on_a_healthy_pipeline(
    env: dict[str, str], serving: ServeProcess
) -> None:
    produce(env["JOBLINE_KAFKA_HOSTS"], env["JOBLINE_JOBS_TOPIC"], [job_message()] * 5)
    run = doctor(env, *SHARED_SERVER, "--stall-after", "5")
    not_ok = [c for c in run.report["checks"] if c["status"] != "ok"]
    assert not_ok == [], not_ok
    assert run.exit_code == 0
    assert run.verdict["stage"] is None
    assert run.elapsed_s < 10


async def test_doctor_names_the_intake_when_it_is_stopped_while_triggers_arrive(
    env: dict[str, str], jobs_db: JobsDB
) -> None:
    produce(env["JOBLINE_KAFKA_HOSTS"], env["JOBLINE_JOBS_TOPIC"], [job_message()] * 20)
    run = doctor(env, "--namespace", "plugins-prod")
    assert run.exit_code == 2
    assert run.elapsed_s < 10
    group = run.check("intake.group")
    assert group["status"] == "fail"
    assert "0 member(s), while 20 message(s) wait" in group["evidence"]
    assert run.check("intake.lag")["status"] == "fail"
    assert run.verdict["stage"] == "intake"
    assert run.verdict["action"]["command"] == (
        "kubectl rollout restart deployment/plugins-jobs -n plugins-prod"
    )


async def test_doctor_names_the_runners_when_none_is_alive_while_jobs_are_due(
    env: dict[str, str], jobs_db: JobsDB
) -> None:
    due = datetime.now(UTC) - timedelta(seconds=5)
    await jobs_db.insert_jobs(
        [
            JobMessage.create(
                type="record", payload={"n": n}, plugin_config_id=1, team_id=42, run_at=due
            )
            for n in range(3)
        ]
    )
    run = doctor(env, "--namespace", "ns1", "--deployment", "my-jobs")
    assert run.exit_code == 2
    check = run.check("runners.live")
    assert check["status"] == "fail"
    assert "no runner alive while 3 job(s) are due" in check["meaning"]
    assert run.verdict["stage"] == "runners"
    assert run.verdict["action"]["command"] == "kubectl rollout restart deployment/my-jobs -n ns1"


def test_doctor_warns_when_the_dlq_grows_and_points_at_the_producers(
    env: dict[str, str], serving: ServeProcess
) -> None:
    stop = threading.Event()

    def keep_dead_lettering() -> None:
        while not stop.is_set():
            produce(env["JOBLINE_KAFKA_HOSTS"], env["JOBLINE_DLQ_TOPIC"], [b"not json"])
            stop.wait(0.2)

    producer = threading.Thread(target=keep_dead_lettering, daemon=True)
    producer.start()
    try:
        run = doctor(env, *SHARED_SERVER)
    finally:
        stop.set()
        producer.join(10)
    check = run.check("dlq.growing")
    assert check["status"] == "warn", check
    assert run.exit_code == 1, run.report["verdict"]
    assert run.verdict["stage"] == "producers"
    assert run.verdict["action"]["command"] == "jobline dlq stats"
