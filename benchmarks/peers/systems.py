"""How each system under test queues N jobs, runs them, and takes sequential triggers.

Every round gets its own schema in the run's own database (bench_<pid>), dropped after.
A system's job table shrinks as jobs complete (each deletes a finished job), so one
`count(*)` tells all three how many jobs are left.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from benchmarks.peers.procs import Proc

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
    table: str  # the system's job table, schema-qualified (ids grow with each insert)
    locked: str  # the condition of a job a runner has taken
    env: dict[str, str]
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def count_sql(self) -> str:
        """Jobs not yet done (each system deletes a finished job)."""
        return f"SELECT count(*) FROM {self.table}"

    @property
    def started_sql(self) -> str:
        """Has any job been taken by a runner (locked, or done)?"""
        return f"SELECT EXISTS (SELECT 1 FROM {self.table} WHERE {self.locked})"

    def count_above_sql(self, floor: int) -> str:
        """Jobs above id `floor` not yet done: a primary-key range, so the jobs queued
        before (scenario 4's million future jobs, its deep queue) cost the count nothing."""
        return f"SELECT count(*) FROM {self.table} WHERE id > {int(floor)}"

    def started_above_sql(self, floor: int) -> str:
        return (
            f"SELECT EXISTS (SELECT 1 FROM {self.table} WHERE id > {int(floor)} AND {self.locked})"
        )

    @property
    def max_id_sql(self) -> str:
        return f"SELECT coalesce(max(id), 0) FROM {self.table}"


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

    # --- scenario 4 (scale): what is in the table before the n jobs are queued ----------

    named_queues = False  # has serial named queues (scenario 4's deep queue)

    def add_future(self, rnd: Round, count: int) -> None:
        """`count` trivial jobs due tomorrow, with the system's own bulk call."""
        raise NotImplementedError

    def add_blocked_queue(self, rnd: Round, depth: int) -> None:
        """One named queue `depth` jobs deep, all due, whose head a runner holds (a lock
        that stays fresh for the whole run: nobody rescues it)."""
        raise NotImplementedError

    def sql(self, *statements: str, params: dict[str, object] | None = None) -> None:
        with psycopg.connect(self.db_url, autocommit=True) as conn:
            for statement in statements:
                conn.execute(statement.encode(), params)


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
        rnd = Round(schema, f"{schema}._private_jobs", "locked_at IS NOT NULL", {})
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

    named_queues = True
    BULK = 100_000  # specs per add_jobs call

    def _add_jobs(self, rnd: Round, count: int, queue: str | None, run_at: str) -> None:
        """Graphile Worker's own bulk function, add_jobs(job_spec[]), from SQL."""
        for start in range(0, count, self.BULK):
            self.sql(
                f"SELECT count(*) FROM {rnd.schema}.add_jobs(ARRAY("
                f" SELECT ROW('noop', json_build_object('n', g), %(queue)s, {run_at},"
                f"  NULL, NULL, NULL, NULL)::{rnd.schema}.job_spec"
                f" FROM generate_series(%(lo)s::int, %(hi)s::int) g))",
                params={"queue": queue, "lo": start, "hi": min(count, start + self.BULK) - 1},
            )

    def add_future(self, rnd: Round, count: int) -> None:
        self._add_jobs(rnd, count, None, "now() + interval '1 day'")

    def add_blocked_queue(self, rnd: Round, depth: int) -> None:
        self._add_jobs(rnd, depth, "deep", "now()")
        # What a worker's fetch does when it takes a queued job: lock the job and its queue.
        self.sql(
            f"UPDATE {rnd.schema}._private_job_queues SET locked_at = now(),"
            " locked_by = 'bench-holder' WHERE queue_name = 'deep'",
            f"UPDATE {rnd.table} SET locked_at = now(), locked_by = 'bench-holder'"
            f" WHERE id = (SELECT min(id) FROM {rnd.table})",
        )


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
        rnd = Round(schema, f"{schema}.pgqueuer", "status = 'picked'", {})
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

    def add_future(self, rnd: Round, count: int) -> None:
        # Queries.enqueue with execute_after (PgQueuer has no named serial queues).
        self.run_python("add", rnd, n=count, delay_s=86_400, chunk=100_000)
