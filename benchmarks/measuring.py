"""Where the time goes during a timed phase: CPU accounting from /proc, and a run's result."""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.environment import KAFKA_PID_FILE, PG_PID_FILE, read_first_line

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _proc_stat(pid: int) -> tuple[str, int, float]:
    """(comm, ppid, cpu seconds incl. reaped children) of a process, or ('', 0, 0)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return "", 0, 0.0
    comm = raw[raw.find("(") + 1 : raw.rfind(")")]
    rest = raw[raw.rfind(")") + 2 :].split()
    ticks = sum(int(x) for x in rest[11:15])  # utime stime cutime cstime
    return comm, int(rest[1]), ticks / CLK_TCK


def _postgres_cpu() -> float:
    """CPU seconds of our PostgreSQL: postmaster (incl. exited backends) + live backends."""
    pm = read_first_line(PG_PID_FILE)
    if not pm.isdigit():
        return float("nan")
    total = _proc_stat(int(pm))[2]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            _, ppid, cpu = _proc_stat(int(entry.name))
            if ppid == int(pm):
                total += cpu
    return total


def _machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    total = sum(fields[:8])  # guest time is already counted in user
    return (total - idle) / CLK_TCK, total / CLK_TCK


@dataclass
class CpuSnap:
    t: float
    server: float
    postgres: float
    kafka: float
    bench: float
    busy: float
    total: float


def peak_rss_mib(pid: int | None) -> float:
    """VmHWM of a live process (the kernel's own peak resident set), in MiB; NaN if gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return float("nan")


def cpu_snap(server_pid: int | None) -> CpuSnap:
    kafka_pid = read_first_line(KAFKA_PID_FILE)
    busy, total = _machine_busy()
    self_times = os.times()
    return CpuSnap(
        t=time.perf_counter(),
        server=_proc_stat(server_pid)[2] if server_pid else 0.0,
        postgres=_postgres_cpu(),
        kafka=_proc_stat(int(kafka_pid))[2] if kafka_pid.isdigit() else float("nan"),
        bench=self_times.user + self_times.system,
        busy=busy,
        total=total,
    )


def cpu_share(a: CpuSnap, b: CpuSnap) -> dict[str, float]:
    """CPU use between two snapshots, in cores (1.0 = one core busy all along)."""
    wall = max(b.t - a.t, 1e-9)
    share = {
        "server": (b.server - a.server) / wall,
        "postgres": (b.postgres - a.postgres) / wall,
        "kafka": (b.kafka - a.kafka) / wall,
        "bench": (b.bench - a.bench) / wall,
        "machine": (b.busy - a.busy) / wall,
    }
    # Anything else on the machine (other users' work: a shared box is noisy).
    share["other"] = share["machine"] - sum(
        share[k] for k in ("server", "postgres", "kafka", "bench")
    )
    return share


@dataclass
class RunResult:
    scenario: str
    n: int
    figures: dict[str, float]  # seconds, jobs/s, counts
    cpu: dict[str, dict[str, float]]
    failed_jobs: int
    exit_code: int | None
    stop_s: float
    log_counts: Counter[str]
    log_other: list[str]
    log_path: Path
    notes: list[str] = field(default_factory=list)
