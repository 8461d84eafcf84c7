"""The development services as the tests, the benchmark and the demo reach them.

`scripts/services up` starts PostgreSQL and Kafka and writes their URLs to
`.local/services.env`; everything that drives jobline from outside (integration tests,
`benchmarks/`, `examples/demo.py`) reads them, picks free ports, runs the `jobline`
command and makes Kafka topics the same way, through this module.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from confluent_kafka.admin import NewTopic  # type: ignore[attr-defined]

ROOT = Path(__file__).resolve().parents[1]
SERVICES_ENV = ROOT / ".local" / "services.env"


class ServicesNotStarted(RuntimeError):
    """`.local/services.env` is missing: the services were never started here."""


def read_services_env() -> dict[str, str]:
    """The JOBLINE_* URLs of the running services (`KEY=value` lines, `#` comments)."""
    if not SERVICES_ENV.exists():
        raise ServicesNotStarted(
            f"{SERVICES_ENV} is missing: start the services with `scripts/services up` "
            "(`make test` does it)"
        )
    values: dict[str, str] = {}
    for line in SERVICES_ENV.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def subprocess_env(env: Mapping[str, str]) -> dict[str, str]:
    """This process's environment, `env` over it, and the repository importable."""
    return {**os.environ, **env, "PYTHONPATH": str(ROOT)}


def run_jobline(
    env: Mapping[str, str], *args: str, check: bool, timeout_s: float | None = None
) -> subprocess.CompletedProcess[str]:
    """`jobline ARGS` as a subprocess of this interpreter, from the repository root."""
    return subprocess.run(
        [sys.executable, "-m", "jobline.cli", *args],
        env=subprocess_env(env),
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=check,
        timeout=timeout_s,
    )


def create_topics(admin: Any, partitions_by_topic: Mapping[str, int]) -> None:
    """Create Kafka topics (replication 1: one broker) and wait until they exist."""
    futures = admin.create_topics(
        [
            NewTopic(name, num_partitions=n, replication_factor=1)
            for name, n in partitions_by_topic.items()
        ],
        operation_timeout=30,
    )
    for future in futures.values():
        future.result(timeout=60)
