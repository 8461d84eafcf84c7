"""How each system under test queues N jobs, runs them, and takes sequential triggers.

Every round gets its own schema in the run's own database (bench_<pid>), dropped after.
A system's job table shrinks as jobs complete (each deletes a finished job), so one
`count(*)` tells all three how many jobs are left.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from benchmarks.isolated import chunks, isolated_run, make_jobs
from benchmarks.peers.procs import Proc
from jobline import JobMessage, Jobs
from jobline.config import load_settings
from jobline.store import JobsDB
from tests.devenv import ROOT, free_port

RUNNERS = Path(__file__).resolve().parent


@dataclass
class Peers:
    """Where scripts/install-peers put each peer, and its version (absent: not installed)."""

    dirs: dict[str, Path] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)


@dataclass
class Round:
    """One system's state for one round: its schema, and how to count what is left."""

    schema: str
    count_sql: str  # jobs not yet done
    started_sql: str  # has any job been taken by a runner (locked, or done)?
    env: dict[str, str]
    extra: dict[str, object] = field(default_factory=dict)


class System:
    name = ""
    settings = ""
    processes = 2

    def __init__(self, db_url: str, base_env: dict[str, str], peers: Peers, logs: Path):
        self.db_url, self.base_env, self.peers, self.logs = db_url, base_env, peers, logs

    def log(self, what: str) -> Path:
        return self.logs / f"{self.name.replace(' ', '_').replace('=', '')}-{what}.log"

    @contextmanager
    def round(self) -> Iterator[Round]:
        schema = f"b_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(self.db_url, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        try:
            yield self.prepare(schema)
        finally:
            with psycopg.connect(self.db_url, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")

    def prepare(self, schema: str) -> Round:
        raise NotImplementedError

    def queue(self, rnd: Round, n: int) -> None:
        raise NotImplementedError

    def workers(self, rnd: Round, count: int, latency: bool) -> list[Proc]:
        raise NotImplementedError

    def ready(self, procs: list[Proc]) -> bool:
        return all("ready" in p.output().splitlines() for p in procs)

    def trigger(self, rnd: Round, k: int, gap_ms: float) -> None:
        """k sequential add-job calls, gap_ms apart, each with its call time in the payload."""
        raise NotImplementedError


class GraphileWorker(System):
    name = "graphile-worker"

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.opts: dict[str, object] = {
            "connectionString": self.db_url,
            "concurrency": 10,
            "localQueueSize": 500,
            "completeJobBatchDelay": 0,
        }
        self.settings = (
            "2 processes, concurrency 10, localQueue.size 500, completeJobBatchDelay 0, "
            "failJobBatchDelay 0"
        )

    def node(self, command: str, rnd: Round, **more: object) -> list[str]:
        opts = {**self.opts, "schema": rnd.schema, **more}
        return ["node", str(RUNNERS / "graphile_runner.js"), command, json.dumps(opts)]

    def env(self) -> dict[str, str]:
        return {**os.environ, "NODE_PATH": str(self.peers.dirs[self.name] / "node_modules")}

    def run_node(self, command: str, rnd: Round, **more: object) -> None:
        proc = Proc(
            f"graphile {command}", self.node(command, rnd, **more), self.env(), self.log(command)
        )
        if proc.popen.wait() != 0:
            raise RuntimeError(f"graphile_runner.js {command} failed:\n{proc.tail()}")
        proc.stop()

    def prepare(self, schema: str) -> Round:
        jobs = f"{schema}._private_jobs"
        rnd = Round(
            schema,
            f"SELECT count(*) FROM {jobs}",
            f"SELECT EXISTS (SELECT 1 FROM {jobs} WHERE locked_at IS NOT NULL)",
            {},
        )
        with psycopg.connect(self.db_url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema}")  # graphile-worker creates its own schema
        self.run_node("migrate", rnd)
        return rnd

    def queue(self, rnd: Round, n: int) -> None:
        self.run_node("add", rnd, n=n)

    def workers(self, rnd: Round, count: int, latency: bool) -> list[Proc]:
        return [
            Proc(
                f"graphile worker {i}",
                self.node("work", rnd, latency=latency),
                self.env(),
                self.log(f"work{i}"),
            )
            for i in range(count)
        ]

    def trigger(self, rnd: Round, k: int, gap_ms: float) -> None:
        self.run_node("trigger", rnd, k=k, gapMs=gap_ms)


class PgQueuer(System):
    name = "pgqueuer"

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.batch_size = 100
        self.settings = f"2 processes, asyncpg driver, batch_size {self.batch_size}, no limit"

    def python(self, command: str, rnd: Round, **more: object) -> list[str]:
        opts = {"dsn": self.db_url, "schema": rnd.schema, "batch_size": self.batch_size, **more}
        venv_python = str(self.peers.dirs[self.name] / "bin" / "python")
        return [venv_python, str(RUNNERS / "pgqueuer_runner.py"), command, json.dumps(opts)]

    def run_python(self, command: str, rnd: Round, **more: object) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        proc = Proc(
            f"pgqueuer {command}", self.python(command, rnd, **more), env, self.log(command)
        )
        if proc.popen.wait() != 0:
            raise RuntimeError(f"pgqueuer_runner.py {command} failed:\n{proc.tail()}")
        proc.stop()

    def prepare(self, schema: str) -> Round:
        rnd = Round(
            schema,
            f"SELECT count(*) FROM {schema}.pgqueuer",
            f"SELECT EXISTS (SELECT 1 FROM {schema}.pgqueuer WHERE status = 'picked')",
            {},
        )
        with psycopg.connect(self.db_url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema}")  # PgQueuer's install creates it
        self.run_python("install", rnd)
        return rnd

    def queue(self, rnd: Round, n: int) -> None:
        self.run_python("add", rnd, n=n)

    def workers(self, rnd: Round, count: int, latency: bool) -> list[Proc]:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        return [
            Proc(
                f"pgqueuer worker {i}",
                self.python("work", rnd, latency=latency),
                env,
                self.log(f"work{i}"),
            )
            for i in range(count)
        ]

    def trigger(self, rnd: Round, k: int, gap_ms: float) -> None:
        self.run_python("trigger", rnd, k=k, gap_ms=gap_ms)


class Jobline(System):
    """`jobline serve --mode jobs` processes; a named profile is a set of JOBLINE_* values."""

    def __init__(self, profile: str, profile_env: dict[str, str], *args: object) -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        self.name = f"jobline {profile}"
        self.profile_env = profile_env
        self.wrap: list[str] = []  # a command prefix, e.g. a profiler
        shown = ", ".join(f"{k}={v}" for k, v in profile_env.items()) or "defaults"
        self.settings = f"2 processes (jobline serve --mode jobs), {shown}"

    @contextmanager
    def round(self) -> Iterator[Round]:
        base = {**self.base_env, "JOBLINE_JOBS_DATABASE_URL": self.db_url}
        with isolated_run(base, self.logs, self.name.replace(" ", "_")) as ctx:
            env = {**ctx.env, **self.profile_env}
            jobs = f"{ctx.schema}.jobs"
            rnd = Round(
                ctx.schema,
                f"SELECT count(*) FROM {jobs}",
                f"SELECT EXISTS (SELECT 1 FROM {jobs} WHERE locked_by IS NOT NULL)",
                env,
            )
            rnd.extra["ctx"] = ctx
            try:
                yield rnd
            finally:
                if isinstance(producer := rnd.extra.get("producer"), Jobs):
                    producer.close()

    def queue(self, rnd: Round, n: int) -> None:
        ctx = rnd.extra["ctx"]
        jobs = make_jobs(n, ctx.config_id)  # type: ignore[attr-defined]

        async def insert_all() -> None:
            db = JobsDB(self.db_url, rnd.schema, max_size=2)
            await db.open()
            try:
                for part in chunks(jobs, 10_000):
                    await db.insert_jobs(part)
            finally:
                await db.close()

        asyncio.run(insert_all())

    def workers(self, rnd: Round, count: int, latency: bool) -> list[Proc]:
        procs = []
        for i in range(count):
            env = {**rnd.env, "JOBLINE_HTTP_PORT": str(free_port()), "PYTHONUNBUFFERED": "1"}
            env["PYTHONPATH"] = str(ROOT)
            if latency:
                env["JOBLINE_PLUGINS"] = "benchmarks.peers.latency_plugin:plugin"
            cmd = [*self.wrap, sys.executable, "-m", "jobline.cli", "serve", "--mode", "jobs"]
            procs.append(Proc(f"{self.name} server {i}", cmd, env, self.log(f"serve{i}")))
        return procs

    def ready(self, procs: list[Proc]) -> bool:
        return all(_http_ok(f"http://127.0.0.1:{port}/_ready") for port in self._ports(procs))

    @staticmethod
    def _ports(procs: list[Proc]) -> list[str]:
        return [p.env["JOBLINE_HTTP_PORT"] for p in procs]

    def trigger(self, rnd: Round, k: int, gap_ms: float) -> None:
        ctx = rnd.extra["ctx"]
        jobs = self._producer(rnd)
        for _ in range(k):
            message = JobMessage.create(
                type="noop",
                payload={"t": time.time() * 1000},
                plugin_config_id=ctx.config_id,  # type: ignore[attr-defined]
                team_id=1,
            )
            jobs.send([message])
            time.sleep(gap_ms / 1000)

    @staticmethod
    def _producer(rnd: Round) -> Jobs:
        """One producer per round, kept across trigger() calls like an application's: a
        new one would put its connection set-up (~0.5 s to Kafka) into the first trigger."""
        if "producer" not in rnd.extra:
            saved = dict(os.environ)
            try:
                os.environ.update({k: v for k, v in rnd.env.items() if k.startswith("JOBLINE_")})
                os.environ["JOBLINE_INTAKE"] = str(rnd.extra.get("intake", "kafka"))
                rnd.extra["producer"] = Jobs.from_settings(load_settings())
            finally:
                os.environ.clear()
                os.environ.update(saved)
        producer = rnd.extra["producer"]
        assert isinstance(producer, Jobs)
        return producer


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1.0) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False
