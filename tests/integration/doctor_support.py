"""Running `jobline doctor --json` / `jobline status --json` as an operator would, timed."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Producer

from .helpers import ROOT


@dataclass
class Run:
    exit_code: int
    report: dict[str, Any]
    elapsed_s: float
    stderr: str

    def check(self, name: str) -> dict[str, Any]:
        found = [c for c in self.report["checks"] if c["name"] == name]
        assert found, f"no check {name!r} in {[c['name'] for c in self.report['checks']]}"
        return found[0]

    @property
    def verdict(self) -> dict[str, Any]:
        return dict(self.report["verdict"])


def jobline_json(env: dict[str, str], *args: str, timeout_s: float = 30) -> Run:
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "jobline.cli", *args, "--json"],
        env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    elapsed = time.monotonic() - started
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise AssertionError(
            f"{args} printed no JSON (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        ) from None
    return Run(proc.returncode, report, elapsed, proc.stderr)


def doctor(env: dict[str, str], *args: str) -> Run:
    return jobline_json(env, "doctor", *args)


def job_message(config_id: int = 1, team: int = 42) -> bytes:
    return json.dumps(
        {"type": "record", "payload": {}, "pluginConfigId": config_id, "pluginConfigTeam": team}
    ).encode()


def produce(hosts: str, topic: str, messages: list[bytes]) -> None:
    producer = Producer({"bootstrap.servers": hosts})
    for value in messages:
        producer.produce(topic, value, key=b"42")
    assert producer.flush(30) == 0, "Kafka did not take the test's messages"


@contextlib.contextmanager
def silent_listener() -> Iterator[int]:
    """A port that accepts TCP connections and never answers: a frozen (SIGSTOPped) server.

    The kernel completes the handshake for the backlog; nothing ever reads or writes.
    """
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    try:
        yield int(sock.getsockname()[1])
    finally:
        sock.close()


def closed_port() -> int:
    """A port nothing listens on: a stopped server (connections are refused at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
