"""Baseline throughput of jobline on this machine (a benchmark, not a test; nothing tuned).

    .venv/bin/python benchmarks/baseline.py [--jobs 100000] [--repeat 3]

Two scenarios, each run --repeat times, every run with its own jobs-DB/main-DB schema
(JOBLINE_SCHEMA=bench_<random>), its own Kafka topics (8 partitions) and intake group,
all removed afterwards:

  queued      N trivial jobs are inserted into the jobs DB (JobsDB.insert_jobs, batches of
              --chunk) while no server runs; then one `jobline serve --mode jobs` starts
              and runs them. Reported: first job run -> jobs table empty (the runner's
              throughput), and server spawn -> jobs table empty (including start-up).
  end to end  One `jobline serve --mode jobs` runs, ready and with its intake partitions
              assigned; the benchmark sends N jobs through Kafka with Jobs.send (chunks of
              --chunk). Reported: producer side (first send -> last send acknowledged),
              intake (first send -> all N persisted in the jobs DB) and end to end
              (first send -> all N ran, jobs table empty).

The job is `noop` of benchmarks/noop_plugin.py. Completion is detected by polling
`SELECT count(*) FROM <schema>.jobs` every 0.2 s, so an end time is late by up to ~0.2 s.
The PostgreSQL and Kafka of `scripts/services up` are used (.local/services.env; real
JOBLINE_* environment variables win, so e.g. JOBLINE_RUNNER_CONCURRENCY=50 changes the
server under test: the effective settings are printed).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import logging
import os
import platform
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from jobline import JobMessage, Jobs
from jobline.config import Settings, load_settings
from jobline.logs import configure_logging
from jobline.plugins.configs import MainDB
from jobline.store import JobsDB

ROOT = Path(__file__).resolve().parents[1]
SERVICES_ENV = ROOT / ".local" / "services.env"
PG_PID_FILE = ROOT / ".local" / "pg" / "data" / "postmaster.pid"
KAFKA_PID_FILE = ROOT / ".local" / "kafka" / "kafka.pid"
PLUGIN_SPEC = "benchmarks.noop_plugin:plugin"
PARTITIONS = 8
COUNT_POLL_S = 0.2  # completion poll (count(*) of the jobs table)
FAST_POLL_S = 0.02  # first-run detection (cheap index lookups)
CLK_TCK = os.sysconf("SC_CLK_TCK")
BENCH_KAFKA_LOG = logging.getLogger("bench.kafka")


# --- environment -------------------------------------------------------------------------


def services_env() -> dict[str, str]:
    if not SERVICES_ENV.exists():
        sys.exit(f"{SERVICES_ENV} is missing: start the services with `scripts/services up`")
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


# --- CPU accounting from /proc: where the time goes during a timed phase ---------------------


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


# --- one isolated run: schema, topics, group, plugin config ------------------------------


@dataclass
class RunContext:
    base_env: dict[str, str]
    workdir: Path
    label: str
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:10])
    config_id: int = 0
    http_port: int = 0

    @property
    def schema(self) -> str:
        return f"bench_{self.run_id}"

    @property
    def jobs_topic(self) -> str:
        return f"bench_jobs_{self.run_id}"

    @property
    def dlq_topic(self) -> str:
        return f"bench_jobs_dlq_{self.run_id}"

    @property
    def group(self) -> str:
        return f"bench-inserter-{self.run_id}"

    @property
    def log_path(self) -> Path:
        return self.workdir / f"serve-{self.label}-{self.schema}.log"

    @property
    def env(self) -> dict[str, str]:
        return {
            **self.base_env,
            "JOBLINE_SCHEMA": self.schema,
            "JOBLINE_JOBS_TOPIC": self.jobs_topic,
            "JOBLINE_DLQ_TOPIC": self.dlq_topic,
            "JOBLINE_INTAKE_GROUP": self.group,
            "JOBLINE_PLUGINS": PLUGIN_SPEC,
            "JOBLINE_HTTP_PORT": str(self.http_port),
            "JOBLINE_LOG_LEVEL": "warning",
            "JOBLINE_LOG_FORMAT": "json",
        }

    def settings(self) -> Settings:
        """The settings this run's server sees (the same env, read in this process)."""
        saved = dict(os.environ)
        try:
            os.environ.update({k: v for k, v in self.env.items() if k.startswith("JOBLINE_")})
            return load_settings()
        finally:
            os.environ.clear()
            os.environ.update(saved)

    @property
    def kafka_hosts(self) -> str:
        return self.base_env["JOBLINE_KAFKA_HOSTS"]

    @property
    def jobs_url(self) -> str:
        return self.base_env["JOBLINE_JOBS_DATABASE_URL"]

    @property
    def main_url(self) -> str:
        return self.base_env["JOBLINE_DATABASE_URL"]


@contextmanager
def isolated_run(base_env: dict[str, str], workdir: Path, label: str) -> Iterator[RunContext]:
    ctx = RunContext(base_env, workdir, label)
    ctx.http_port = free_port()
    # librdkafka's own lines go through logging (warnings and up only), not raw stderr.
    admin = AdminClient({"bootstrap.servers": ctx.kafka_hosts}, logger=BENCH_KAFKA_LOG)
    try:
        futures = admin.create_topics(
            [
                NewTopic(ctx.jobs_topic, num_partitions=PARTITIONS, replication_factor=1),
                NewTopic(ctx.dlq_topic, num_partitions=PARTITIONS, replication_factor=1),
            ],
            operation_timeout=30,
        )
        for future in futures.values():
            future.result(timeout=60)

        async def prepare() -> int:
            await JobsDB(ctx.jobs_url, ctx.schema).migrate()
            main_db = MainDB(ctx.main_url, ctx.schema)
            await main_db.migrate()
            await main_db.open()
            try:
                config = await main_db.add_config("bench", team_id=1, settings={})
            finally:
                await main_db.close()
            return config.id

        ctx.config_id = asyncio.run(prepare())
        yield ctx
    finally:
        for url in (ctx.jobs_url, ctx.main_url):
            try:
                with psycopg.connect(url, autocommit=True) as conn:
                    conn.execute(f"DROP SCHEMA IF EXISTS {ctx.schema} CASCADE")
            except Exception as exc:
                print(f"  warning: could not drop schema {ctx.schema} at {url}: {exc}")
        for future in admin.delete_topics(
            [ctx.jobs_topic, ctx.dlq_topic], operation_timeout=30
        ).values():
            try:
                future.result(timeout=60)
            except Exception as exc:
                print(f"  warning: could not delete a topic of {ctx.run_id}: {exc}")
        try:
            for future in admin.delete_consumer_groups([ctx.group], request_timeout=30).values():
                future.result(timeout=60)
        except Exception as exc:  # the group may not exist (nothing committed)
            if "GROUP_ID_NOT_FOUND" not in str(exc):
                print(f"  warning: could not delete consumer group {ctx.group}: {exc}")


def make_jobs(n: int, config_id: int) -> list[JobMessage]:
    return [
        JobMessage.create(type="noop", payload={"n": i}, plugin_config_id=config_id, team_id=1)
        for i in range(n)
    ]


def chunks(items: list[JobMessage], size: int) -> Iterator[list[JobMessage]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --- the server under test ---------------------------------------------------------------


class ServerProcess:
    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: Any = None
        self.spawned_at = 0.0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.ctx.http_port}"

    def start(self) -> float:
        env = dict(self.ctx.env)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
        env["PYTHONUNBUFFERED"] = "1"
        self._log = open(self.ctx.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.spawned_at = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jobline.cli", "serve", "--mode", "jobs"],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        return self.spawned_at

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def check_alive(self) -> None:
        assert self.proc is not None
        code = self.proc.poll()
        if code is not None:
            raise RuntimeError(
                f"jobline serve exited early with code {code}; log {self.ctx.log_path}:\n"
                + self.log_tail()
            )

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.ctx.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def get(self, path: str, timeout: float = 2.0) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(self.base_url + path, timeout=timeout) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(errors="replace")
        except (urllib.error.URLError, OSError):
            return 0, ""

    def ready(self) -> bool:
        return self.get("/_ready", timeout=1.0)[0] == 200

    def metrics(self) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
        status, body = self.get("/metrics", timeout=5.0)
        if status != 200:
            raise RuntimeError(f"GET /metrics answered {status}")
        out: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
        for line in body.splitlines():
            m = re.match(r"^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)$", line)
            if not m or line.startswith("#"):
                continue
            labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
            out[(m.group(1), labels)] = float(m.group(3))
        return out

    def stop(self, timeout_s: float) -> tuple[int | None, float]:
        """SIGTERM, wait; returns (exit code or None if it had to be killed, seconds)."""
        assert self.proc is not None
        started = time.perf_counter()
        code: int | None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                code = self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
                code = None
        else:
            code = self.proc.returncode
        if self._log is not None:
            self._log.close()
        return code, time.perf_counter() - started

    def log_findings(self) -> tuple[Counter[str], list[str]]:
        """Counts of warning/error events by (level, event), and lines that are not JSON."""
        counts: Counter[str] = Counter()
        other: list[str] = []
        try:
            lines = self.ctx.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return counts, ["(log unreadable)"]
        for line in lines:
            if not line.strip():
                continue
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                other.append(line)
                continue
            level = str(event.get("level", "?"))
            if level not in ("debug", "info"):
                counts[f"{level} {event.get('event', '?')}"] += 1
        return counts, other


def metric(
    values: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    want = set(labels.items())
    return sum(v for (n, ls), v in values.items() if n == name and want <= set(ls))


def wait_for(what: str, cond: Callable[[], bool], server: ServerProcess, timeout_s: float) -> None:
    deadline = time.perf_counter() + timeout_s
    while not cond():
        server.check_alive()
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{what} not reached within {timeout_s:g} s")
        time.sleep(FAST_POLL_S)


# --- scenarios ---------------------------------------------------------------------------


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


def finish(
    server: ServerProcess, ctx: RunContext, n: int, grace_s: float
) -> tuple[int, float, list[str], int | None, float]:
    """Read the server's counters, check failed_jobs, stop it (SIGTERM)."""
    notes: list[str] = []
    values = server.metrics()
    ran = metric(values, "jobline_jobs_run_total", type="noop", result="success")
    not_success = sum(
        v
        for (name, labels), v in values.items()
        if name == "jobline_jobs_run_total" and ("result", "success") not in labels
    )
    if int(ran) != n:
        notes.append(f"server counted {int(ran)} successful noop runs, expected {n}")
    if not_success:
        notes.append(f"server counted {int(not_success)} runs that were not successes")
    with psycopg.connect(ctx.jobs_url, autocommit=True) as conn:
        row = conn.execute(f"SELECT count(*) FROM {ctx.schema}.failed_jobs").fetchone()
    failed = int(row[0]) if row else -1
    code, stop_s = server.stop(grace_s + 15)
    if code != 0:
        notes.append(f"jobline serve exit code after SIGTERM: {code} (expected 0)")
    return failed, ran, notes, code, stop_s


def run_queued(ctx: RunContext, n: int, chunk: int, timeout_s: float) -> RunResult:
    settings = ctx.settings()
    jobs = make_jobs(n, ctx.config_id)

    async def insert_all() -> float:
        db = JobsDB(ctx.jobs_url, ctx.schema, max_size=2)
        await db.open()
        try:
            started = time.perf_counter()
            for part in chunks(jobs, chunk):
                await db.insert_jobs(part)
            return time.perf_counter() - started
        finally:
            await db.close()

    insert_s = asyncio.run(insert_all())
    conn = psycopg.connect(ctx.jobs_url, autocommit=True)
    try:
        jobs_table = f"{ctx.schema}.jobs"
        row = conn.execute(f"SELECT count(*), min(id) FROM {jobs_table}").fetchone()
        assert row is not None and int(row[0]) == n, f"expected {n} queued jobs, found {row}"
        first_id = int(row[1])
        # Cheap index lookups: has any job been taken (locked) or the first one gone?
        started_q = (
            f"SELECT EXISTS (SELECT 1 FROM {jobs_table} WHERE locked_by IS NOT NULL)"
            f" OR NOT EXISTS (SELECT 1 FROM {jobs_table} WHERE id = %s)"
        )
        count_q = f"SELECT count(*) FROM {jobs_table}"

        server = ServerProcess(ctx)
        try:
            t_spawn = server.start()
            snap_spawn = cpu_snap(server.pid)
            t_ready: float | None = None
            t_first: float | None = None
            t_empty: float | None = None
            snap_first: CpuSnap | None = None
            snap_empty: CpuSnap | None = None
            next_ready_check = t_spawn
            next_count = 0.0
            remaining = n
            samples: list[tuple[float, int]] = []
            count_query_s: list[float] = []
            deadline = t_spawn + timeout_s
            while True:
                now = time.perf_counter()
                server.check_alive()
                if now > deadline:
                    raise TimeoutError(
                        f"queued: {remaining} of {n} jobs still in the table after "
                        f"{timeout_s:g} s; log {ctx.log_path}"
                    )
                if t_ready is None and now >= next_ready_check:
                    if server.ready():
                        t_ready = time.perf_counter()
                    next_ready_check = now + 0.05
                if t_first is None:
                    r = conn.execute(started_q, (first_id,)).fetchone()
                    if r and r[0]:
                        t_first = time.perf_counter()
                        snap_first = cpu_snap(server.pid)
                        next_count = t_first + COUNT_POLL_S
                    time.sleep(FAST_POLL_S)
                    continue
                if now >= next_count:
                    q_started = time.perf_counter()
                    r = conn.execute(count_q).fetchone()
                    remaining = int(r[0]) if r else -1
                    count_query_s.append(time.perf_counter() - q_started)
                    samples.append((time.perf_counter(), remaining))
                    if remaining == 0 and t_empty is None:
                        t_empty = time.perf_counter()
                        snap_empty = cpu_snap(server.pid)
                    next_count = now + COUNT_POLL_S
                if t_empty is not None and t_ready is not None:
                    break
                time.sleep(FAST_POLL_S if t_ready is None else COUNT_POLL_S / 4)
            assert snap_first is not None and snap_empty is not None
            failed, _, notes, code, stop_s = finish(server, ctx, n, settings.shutdown_grace_s)
        except BaseException:
            with suppress(Exception):
                server.stop(5)
            raise
    finally:
        conn.close()
    counts, other = server.log_findings()
    run_cpu = cpu_share(snap_first, snap_empty)
    run_s = t_empty - t_first
    wall_s = t_empty - t_spawn
    # Throughput per quarter of the queue (from the 0.2 s samples): does it decay?
    quarters: dict[str, float] = {}
    t_prev = t_first
    for k in range(1, 5):
        left = n - k * n // 4
        t_k = next(t for t, remaining in samples if remaining <= left)
        quarters[f"q{k}_rate"] = (n // 4) / max(t_k - t_prev, 1e-9)
        t_prev = t_k
    return RunResult(
        scenario="queued",
        n=n,
        figures={
            "insert_s": insert_s,
            "insert_rate": n / insert_s,
            "spawn_to_ready_s": t_ready - t_spawn,
            "spawn_to_first_run_s": t_first - t_spawn,
            "run_s": run_s,
            "run_rate": n / run_s,
            "wall_s": wall_s,
            "wall_rate": n / wall_s,
            **quarters,
            "count_poll_ms": 1000 * statistics.mean(count_query_s),
            "server_us_per_job": 1e6 * run_cpu["server"] * run_s / n,
            "postgres_us_per_job": 1e6 * run_cpu["postgres"] * run_s / n,
        },
        cpu={"run": run_cpu, "wall": cpu_share(snap_spawn, snap_empty)},
        failed_jobs=failed,
        exit_code=code,
        stop_s=stop_s,
        log_counts=counts,
        log_other=other,
        log_path=ctx.log_path,
        notes=notes,
    )


class Poller(threading.Thread):
    """Polls the jobs table and the intake offsets every 0.2 s from the first send on."""

    def __init__(self, ctx: RunContext, n: int, timeout_s: float, server_pid: int | None):
        super().__init__(name="bench-poller", daemon=True)
        self.ctx, self.n, self.timeout_s, self.server_pid = ctx, n, timeout_s, server_pid
        self.t0 = 0.0
        self.t_persisted: float | None = None
        self.t_done: float | None = None
        self.snap_done: CpuSnap | None = None
        self.max_backlog = 0
        self.samples: list[tuple[float, int, int]] = []  # (s since t0, in table, persisted)
        self.query_s: list[float] = []
        self.error: BaseException | None = None
        self.stop_flag = threading.Event()

    def run(self) -> None:
        try:
            self._run()
        except BaseException as exc:
            self.error = exc

    def _run(self) -> None:
        ctx = self.ctx
        q = (
            f"SELECT (SELECT count(*) FROM {ctx.schema}.jobs),"
            f" (SELECT coalesce(sum(greatest(next_offset, 0)), 0)"
            f"  FROM {ctx.schema}.intake_offsets WHERE consumer_group = %s AND topic = %s)"
        )
        with psycopg.connect(ctx.jobs_url, autocommit=True) as conn:
            while not self.stop_flag.is_set():
                now = time.perf_counter()
                row = conn.execute(q, (ctx.group, ctx.jobs_topic)).fetchone()
                assert row is not None
                in_table, persisted = int(row[0]), int(row[1])
                t = time.perf_counter()
                self.query_s.append(t - now)
                self.samples.append((t - self.t0, in_table, persisted))
                self.max_backlog = max(self.max_backlog, in_table)
                if persisted >= self.n and self.t_persisted is None:
                    self.t_persisted = t
                if persisted >= self.n and in_table == 0:
                    self.t_done = t
                    self.snap_done = cpu_snap(self.server_pid)
                    return
                if t - self.t0 > self.timeout_s:
                    raise TimeoutError(
                        f"end to end: after {self.timeout_s:g} s, {persisted} of {self.n} "
                        f"persisted and {in_table} still in the table; log {ctx.log_path}"
                    )
                time.sleep(max(0.0, COUNT_POLL_S - (time.perf_counter() - now)))


def run_end_to_end(ctx: RunContext, n: int, chunk: int, timeout_s: float) -> RunResult:
    settings = ctx.settings()
    jobs = make_jobs(n, ctx.config_id)
    server = ServerProcess(ctx)
    producer: Jobs | None = None
    poller: Poller | None = None
    try:
        t_spawn = server.start()
        wait_for("/_ready 200", server.ready, server, 60)
        t_ready = time.perf_counter()

        def assigned() -> bool:
            with psycopg.connect(ctx.jobs_url, autocommit=True) as c:
                row = c.execute(
                    f"SELECT count(*) FROM {ctx.schema}.intake_offsets"
                    " WHERE consumer_group = %s AND topic = %s",
                    (ctx.group, ctx.jobs_topic),
                ).fetchone()
            return bool(row and int(row[0]) >= PARTITIONS)

        # /_ready answers 200 before the intake joined its group; wait for the assignment
        # too, or the group join (a few seconds on a fresh group) would count as throughput.
        wait_for("intake partitions assigned", assigned, server, 60)
        t_assigned = time.perf_counter()
        time.sleep(0.5)  # let the server settle (first fetches, LISTEN) before timing

        producer = Jobs.from_settings(settings)
        poller = Poller(ctx, n, timeout_s, server.pid)
        snap0 = cpu_snap(server.pid)
        poller.t0 = t0 = snap0.t
        poller.start()
        for part in chunks(jobs, chunk):
            producer.send(part)
        t_sent = time.perf_counter()
        snap_sent = cpu_snap(server.pid)
        while poller.is_alive():
            server.check_alive()
            poller.join(0.5)
        if poller.error is not None:
            raise poller.error
        assert poller.t_done is not None and poller.t_persisted is not None
        assert poller.snap_done is not None
        failed, _, notes, code, stop_s = finish(server, ctx, n, settings.shutdown_grace_s)
    except BaseException:
        if poller is not None:
            poller.stop_flag.set()
        with suppress(Exception):
            server.stop(5)
        raise
    finally:
        if producer is not None:
            producer.close()
    counts, other = server.log_findings()
    e2e_cpu = cpu_share(snap0, poller.snap_done)
    send_s = t_sent - t0
    persist_s = poller.t_persisted - t0
    e2e_s = poller.t_done - t0
    return RunResult(
        scenario="end to end",
        n=n,
        figures={
            "spawn_to_ready_s": t_ready - t_spawn,
            "spawn_to_assigned_s": t_assigned - t_spawn,
            "send_s": send_s,
            "send_rate": n / send_s,
            "persist_s": persist_s,
            "persist_rate": n / persist_s,
            "e2e_s": e2e_s,
            "e2e_rate": n / e2e_s,
            "max_backlog": float(poller.max_backlog),
            "count_poll_ms": 1000 * statistics.mean(poller.query_s),
            "server_us_per_job": 1e6 * e2e_cpu["server"] * e2e_s / n,
            "postgres_us_per_job": 1e6 * e2e_cpu["postgres"] * e2e_s / n,
        },
        cpu={"sending": cpu_share(snap0, snap_sent), "e2e": e2e_cpu},
        failed_jobs=failed,
        exit_code=code,
        stop_s=stop_s,
        log_counts=counts,
        log_other=other,
        log_path=ctx.log_path,
        notes=notes,
    )


# --- report ------------------------------------------------------------------------------

ROWS: dict[str, list[tuple[str, str, str]]] = {
    # scenario -> (figure key, label, unit)
    "queued": [
        ("run_rate", "queued: first job run -> jobs table empty", "jobs/s"),
        ("wall_rate", "queued: server spawn -> jobs table empty (incl. start)", "jobs/s"),
        ("run_s", "  time, first job run -> empty", "s"),
        ("wall_s", "  time, server spawn -> empty", "s"),
        ("spawn_to_first_run_s", "  server spawn -> first job run", "s"),
        ("spawn_to_ready_s", "  server spawn -> /_ready 200", "s"),
        ("q1_rate", "  1st quarter of the queue", "jobs/s"),
        ("q2_rate", "  2nd quarter of the queue", "jobs/s"),
        ("q3_rate", "  3rd quarter of the queue", "jobs/s"),
        ("q4_rate", "  4th quarter of the queue", "jobs/s"),
        ("server_us_per_job", "  server CPU per job (first run -> empty)", "µs"),
        ("postgres_us_per_job", "  PostgreSQL CPU per job (all backends!)", "µs"),
        ("count_poll_ms", "  (bench) mean count(*) poll query", "ms"),
        ("insert_rate", "  (setup) JobsDB.insert_jobs, no server running", "jobs/s"),
    ],
    "end to end": [
        ("e2e_rate", "end to end: first send -> all ran, table empty", "jobs/s"),
        ("send_rate", "  producer: first send -> last send acked", "jobs/s"),
        ("persist_rate", "  intake: first send -> all persisted in jobs DB", "jobs/s"),
        ("e2e_s", "  time, first send -> all ran", "s"),
        ("send_s", "  time, first send -> last send acked", "s"),
        ("persist_s", "  time, first send -> all persisted", "s"),
        ("max_backlog", "  max jobs waiting in the table (0.2 s samples)", "jobs"),
        ("server_us_per_job", "  server CPU per job (intake + runner)", "µs"),
        ("postgres_us_per_job", "  PostgreSQL CPU per job (all backends!)", "µs"),
        ("spawn_to_ready_s", "  server spawn -> /_ready 200", "s"),
        ("spawn_to_assigned_s", "  server spawn -> intake partitions assigned", "s"),
        ("count_poll_ms", "  (bench) mean count(*) + offsets poll query", "ms"),
    ],
}


def fmt(value: float, unit: str) -> str:
    if unit == "jobs/s":
        return f"{value:,.0f}"
    if unit == "jobs":
        return f"{value:,.0f}"
    if unit == "ms":
        return f"{value:.1f}"
    if unit == "µs":
        return f"{value:.0f}"
    return f"{value:.2f}"


def print_table(results: list[RunResult]) -> None:
    for scenario, rows in ROWS.items():
        runs = [r for r in results if r.scenario == scenario]
        if not runs:
            continue
        n = runs[0].n
        print(f"\n{scenario} ({n:,} jobs, {len(runs)} run{'s' if len(runs) > 1 else ''})")
        width = max(len(label) for _, label, _ in rows)
        print(f"  {'figure':<{width}}  {'median':>10}  {'unit':<6}  runs")
        for key, label, unit in rows:
            values = [r.figures[key] for r in runs]
            med = statistics.median(values)
            all_runs = ", ".join(fmt(v, unit) for v in values)
            print(f"  {label:<{width}}  {fmt(med, unit):>10}  {unit:<6}  {all_runs}")
        for phase in runs[0].cpu:
            parts = []
            for who in ("server", "postgres", "kafka", "bench", "other", "machine"):
                med = statistics.median(r.cpu[phase][who] for r in runs)
                parts.append(f"{who} {med:.2f}")
            print(f"  CPU during '{phase}' (cores busy, median): " + ", ".join(parts))


def print_checks(results: list[RunResult]) -> bool:
    ok = True
    print("\nchecks")
    for i, r in enumerate(results, 1):
        status = "ok" if r.failed_jobs == 0 and r.exit_code == 0 and not r.notes else "PROBLEM"
        ok = ok and status == "ok"
        print(
            f"  run {i} ({r.scenario}): failed_jobs={r.failed_jobs}, "
            f"exit code after SIGTERM={r.exit_code} (stopped in {r.stop_s:.2f} s) -> {status}"
        )
        for note in r.notes:
            print(f"    ! {note}")
        for phase, share in r.cpu.items():
            print(
                f"    CPU '{phase}' (cores): "
                + ", ".join(f"{who} {v:.2f}" for who, v in share.items())
            )
        if r.log_counts or r.log_other:
            print(f"    server log {r.log_path}:")
            for key, count in sorted(r.log_counts.items()):
                print(f"      {count:>6} x {key}")
            for line in r.log_other[:5]:
                print(f"      (not JSON) {line[:200]}")
            if len(r.log_other) > 5:
                print(f"      ... {len(r.log_other) - 5} more non-JSON lines")
        else:
            print("    server log: no warnings or errors")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=100_000, help="jobs per run")
    parser.add_argument("--repeat", type=int, default=3, help="runs per scenario")
    parser.add_argument("--chunk", type=int, default=10_000, help="insert/send batch size")
    parser.add_argument(
        "--scenario",
        choices=("all", "queued", "e2e"),
        default="all",
        help="which scenario(s) to run",
    )
    parser.add_argument("--timeout", type=float, default=0, help="per run, s (0: auto)")
    args = parser.parse_args()
    n, chunk = args.jobs, args.chunk
    timeout_s = args.timeout or max(120.0, n / 100)

    configure_logging("console", "warning")
    base_env = {**services_env(), **os.environ}
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
    workdir = Path(tempfile.mkdtemp(prefix="jobline-bench-"))
    print("jobline baseline benchmark")
    print(f"  command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    for key, value in info.items():
        print(f"  {key}: {value}")

    scenarios: list[tuple[str, Callable[[RunContext, int, int, float], RunResult]]] = []
    if args.scenario in ("all", "queued"):
        scenarios.append(("queued", run_queued))
    if args.scenario in ("all", "e2e"):
        scenarios.append(("e2e", run_end_to_end))

    results: list[RunResult] = []
    settings_printed = False
    # Interleaved (queued, e2e, queued, e2e, ...) so that slow drifts of a shared machine
    # spread over both scenarios.
    for rep in range(1, args.repeat + 1):
        for label, fn in scenarios:
            with isolated_run(base_env, workdir, label) as ctx:
                if not settings_printed:
                    s = ctx.settings()
                    print(
                        "  server settings: "
                        f"runner_concurrency={s.runner_concurrency}, "
                        f"intake_batch_size={s.intake_batch_size}, "
                        f"intake_batch_ms={s.intake_batch_ms}, "
                        f"runner_poll_interval_s={s.runner_poll_interval_s:g}, "
                        f"{PARTITIONS} partitions, job = {PLUGIN_SPEC} noop"
                    )
                    print(f"  server logs: {workdir}")
                    settings_printed = True
                print(f"\n[{rep}/{args.repeat}] {label}: {n:,} jobs, schema {ctx.schema} ...")
                sys.stdout.flush()
                result = fn(ctx, n, chunk, timeout_s)
                results.append(result)
                f = result.figures
                if result.scenario == "queued":
                    print(
                        f"  first run -> empty {f['run_s']:.2f} s = {f['run_rate']:,.0f} jobs/s;"
                        f" spawn -> empty {f['wall_s']:.2f} s = {f['wall_rate']:,.0f} jobs/s"
                    )
                else:
                    print(
                        f"  send {f['send_s']:.2f} s = {f['send_rate']:,.0f} jobs/s; "
                        f"all persisted {f['persist_s']:.2f} s; "
                        f"all ran {f['e2e_s']:.2f} s = {f['e2e_rate']:,.0f} jobs/s"
                    )
                sys.stdout.flush()

    print("\n" + "=" * 78)
    print(f"results ({info['nproc']} CPUs: {info['cpu']}; {info['date']})")
    print_table(results)
    ok = print_checks(results)
    head_end, src_hash_end = code_state()
    if src_hash_end != src_hash:
        ok = False
        print(
            f"\n! src/jobline changed during this run (sha256 {src_hash} -> {src_hash_end}, "
            f"git {head_end}): the runs measured different code; run again"
        )
    print(
        "\nnotes: end times come from polling count(*) every 0.2 s (late by <= ~0.2 s);"
        " CPU figures are in cores (this machine has "
        f"{info['nproc']}); PostgreSQL, Kafka, the server and this process share them."
    )
    print("peers: none measured in this run (see docs/benchmarks.md)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
