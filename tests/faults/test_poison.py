"""Scenarios 7 and 8 of issue 6: poison messages between good ones, and poison handlers."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable

import pytest
from confluent_kafka import Consumer, Producer

from jobline import JobMessage
from jobline.job.codec import encode_job
from tests.faults.harness import Scenario, query, watch
from tests.integration.helpers import add_config, wait_until

MakeScenario = Callable[[str], Scenario]
TWO_MB = 2 * 1024 * 1024


def _job(**fields: object) -> bytes:
    base: dict[str, object] = {
        "type": "record",
        "payload": {},
        "pluginConfigId": 1,
        "pluginConfigTeam": 42,
        "timestamp": int(time.time() * 1000),
    }
    return json.dumps({**base, **fields}).encode()


# One value per way a message can be bad; each must end in the DLQ, none may stop the intake.
POISON: dict[str, bytes] = {
    "not_json": b"{not json",
    "nan": b'{"type": "record", "payload": NaN, "pluginConfigId": 1, "pluginConfigTeam": 42}',
    "not_object": b"[1, 2, 3]",
    "missing_field": json.dumps({"type": "record"}).encode(),
    "wrong_type": _job(pluginConfigId="seven"),
    "empty_value": _job(type=""),
    "out_of_range": _job(type="x" * 300),
    "empty_message": b"",
    "nul_in_payload": _job(payload={"s": "a\u0000b"}),
    "nul_in_type": _job(type="rec\u0000ord"),
    "nul_in_key": _job(jobKey="k\u0000"),
    "lone_surrogate": _job(payload={"s": "\ud800"}),  # json.dumps escapes it: \\ud800
    "bigint_overflow": _job(pluginConfigId=2**70),
    "timestamp_past_year_9999": _job(timestamp=253_402_300_800_000),
    "random_bytes": os.urandom(512),
}
# Over the DLQ topic's 1 MB limit: the intake must still dead-letter them (truncated).
LARGE_POISON: dict[str, bytes] = {
    "random_2mb": os.urandom(TWO_MB),
    "nul_2mb": _job(payload={"s": "\u0000" + "x" * TWO_MB}),
}


def _produce_raw(hosts: str, topic: str, values: list[bytes]) -> None:
    producer = Producer(
        {
            "bootstrap.servers": hosts,
            "message.max.bytes": 5_000_000,
            "enable.idempotence": True,
            "acks": "all",
        }
    )
    for value in values:
        producer.produce(topic, value, b"42")  # one partition: bad ones sit between good ones
    assert producer.flush(30) == 0, "the raw producer did not deliver everything"


def _dlq_count(hosts: str, topic: str, expected: int, timeout_s: float) -> int:
    consumer = Consumer(
        {"bootstrap.servers": hosts, "group.id": f"count-{topic}", "auto.offset.reset": "earliest"}
    )
    consumer.subscribe([topic])
    seen, deadline = 0, time.monotonic() + timeout_s
    while seen < expected and time.monotonic() < deadline:
        if (message := consumer.poll(0.5)) is not None and message.error() is None:
            seen += 1
    consumer.close()
    return seen


@pytest.mark.parametrize("poison", [POISON, LARGE_POISON], ids=["small", "2mb"])
def test_poison_messages_go_to_the_dlq_and_good_ones_run_once(
    scenario: MakeScenario, poison: dict[str, bytes]
) -> None:
    size = "2 MB" if poison is LARGE_POISON else "every reason"
    s = scenario(f"7 poison messages between good ones ({size})")
    (server,) = s.serve()
    stop_watch, not_ready = watch(server.ready)
    numbers, good = s.load.messages(len(poison) + 1)
    values = [encode_job(good[0], 3_000_000)]
    for bad, job in zip(poison.values(), good[1:], strict=True):
        values += [bad, encode_job(job, 3_000_000)]
    _produce_raw(s.env["JOBLINE_KAFKA_HOSTS"], s.env["JOBLINE_JOBS_TOPIC"], values)
    s.load.acknowledged.update(numbers)
    result = s.finish(recovery_s=None, settle_s=20)
    stop_watch.set()
    in_dlq = _dlq_count(s.env["JOBLINE_KAFKA_HOSTS"], s.env["JOBLINE_DLQ_TOPIC"], len(poison), 10)
    assert server.proc.poll() is None, f"the server exited:\n{server.logs()[-3000:]}"
    assert (result.lost, result.twice) == (0, 0), result
    assert in_dlq == len(poison), f"{in_dlq} of {len(poison)} poison messages in the DLQ"
    assert not not_ready, f"/_ready went red at {not_ready}:\n{server.logs()[-3000:]}"


POISON_JOBS = [
    "sys_exit",
    "sync_sys_exit",
    "keyboard_interrupt",
    "cancelled",
    "blocks",
    "nul_error",
]


def _failed_types(s: Scenario) -> set[str]:
    rows = query(
        s.settings.jobs_database_url, f"SELECT type FROM {s.settings.schema_name}.failed_jobs"
    )
    return {row[0] for row in rows or []}


def test_poison_handlers_fail_their_own_jobs_and_the_server_goes_on(
    scenario: MakeScenario,
) -> None:
    s = scenario("8 poison handlers between good jobs")
    (server,) = s.serve()
    poison_config = add_config(s.env, plugin="poison")
    s.load.start()
    wait_until(lambda: len(s.load.acknowledged) >= 50, 30, "the load did not start")
    s.jobs.send(
        [
            JobMessage.create(type=name, payload={}, plugin_config_id=poison_config, team_id=42)
            for name in POISON_JOBS
        ]
    )
    wait_until(
        lambda: _failed_types(s) >= set(POISON_JOBS) or server.proc.poll() is not None,
        45,
        f"not every poison job failed: {_failed_types(s)}",
    )
    alive = server.proc.poll() is None
    result = s.finish(s.recovery(time.monotonic()) if alive else None, settle_s=60 if alive else 5)
    assert alive, f"the server exited:\n{server.logs()[-3000:]}"
    assert (result.lost, result.twice) == (0, 0), result
    assert _failed_types(s) == set(POISON_JOBS)
