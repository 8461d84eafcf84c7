"""The machine and the code under test: services, machine facts, code state.

Set-up shared by every run of the benchmark.
"""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
import sys
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from tests.devenv import ROOT, ServicesNotStarted, read_services_env

PG_PID_FILE = ROOT / ".local" / "pg" / "data" / "postmaster.pid"
KAFKA_PID_FILE = ROOT / ".local" / "kafka" / "kafka.pid"
PLUGIN_SPEC = "benchmarks.noop_plugin:plugin"
PARTITIONS = 8
COUNT_POLL_S = 0.2  # completion poll (count(*) of the jobs table)
FAST_POLL_S = 0.02  # first-run detection (cheap index lookups)


def services_env() -> dict[str, str]:
    try:
        return read_services_env()
    except ServicesNotStarted:
        sys.exit(
            f"{ROOT / '.local' / 'services.env'} is missing: start the services with "
            "`scripts/services up`"
        )


def read_first_line(path: Path) -> str:
    try:
        return path.read_text().splitlines()[0].strip()
    except (OSError, IndexError):
        return ""


def machine_info() -> dict[str, str]:
    cpu = "?"
    with suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = "?"
    with suppress(OSError), open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "nproc": str(len(os.sched_getaffinity(0))),
        "cpu": cpu,
        "ram": mem,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load avg (1/5/15 min) at start": load,
    }


def code_state() -> tuple[str, str]:
    """(git HEAD + dirty marker, hash of src/jobline's files): the code being measured.

    The package is installed editable, so each server subprocess imports src/ as it is
    when it starts: if src/ changes during a run, the runs measured different code.
    """
    digest = hashlib.sha256()
    src = ROOT / "src" / "jobline"
    for path in sorted(src.rglob("*")):
        if path.is_file() and path.suffix in (".py", ".sql"):
            digest.update(str(path.relative_to(src)).encode())
            digest.update(path.read_bytes())
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--", "src"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        head += " (src/ has uncommitted changes)" if dirty else " (src/ clean)"
    except (OSError, subprocess.CalledProcessError):
        head = "?"
    return head, digest.hexdigest()[:12]


def describe_setup(base_env: dict[str, str]) -> tuple[dict[str, str], str]:
    """(facts to print about the machine, services and code; hash of src/jobline)."""
    info = machine_info()
    with psycopg.connect(base_env["JOBLINE_JOBS_DATABASE_URL"], autocommit=True) as conn:
        row = conn.execute("SHOW server_version").fetchone()
        info["postgresql"] = str(row[0]) if row else "?"
    import confluent_kafka

    info["confluent-kafka / librdkafka"] = (
        f"{confluent_kafka.version()} / {confluent_kafka.libversion()[0]}"
    )
    head, src_hash = code_state()
    info["code"] = f"git {head}, src/jobline sha256 {src_hash}"
    return info, src_hash
