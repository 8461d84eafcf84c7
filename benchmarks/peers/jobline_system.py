"""jobline as a system under test: `jobline serve --mode jobs` processes, its own triggers."""

from __future__ import annotations

import asyncio
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

from benchmarks.isolated import chunks, isolated_run, make_jobs
from benchmarks.peers.procs import Proc
from benchmarks.peers.systems import Round, System
from jobline import JobMessage, Jobs
from jobline.config import load_settings
from jobline.store import JobsDB
from tests.devenv import ROOT, free_port


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
            rnd = Round(ctx.schema, f"{ctx.schema}.jobs", "locked_by IS NOT NULL", env)
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

    named_queues = True

    def add_future(self, rnd: Round, count: int) -> None:
        # Straight into the table (insert_jobs would take ~50 s for a million here): the
        # same rows a trigger with run_at tomorrow makes.
        self._insert_series(rnd, count, None, "now() + interval '1 day'")

    def add_blocked_queue(self, rnd: Round, depth: int) -> None:
        self._insert_series(rnd, depth, "deep", "now()")
        # A runner that takes the queue's head and keeps beating (its heartbeat is set a
        # day ahead, so no rescue takes the job back during the run).
        self.sql(
            f"INSERT INTO {rnd.schema}.runners (id, hostname, pid, capabilities, heartbeat_at)"
            " VALUES ('bench-holder', 'bench', 0, '{runner}', now() + interval '1 day')",
            f"UPDATE {rnd.table} SET locked_by = 'bench-holder', locked_at = now()"
            f" WHERE id = (SELECT min(id) FROM {rnd.table} WHERE queue_name = 'deep')",
        )

    def _insert_series(self, rnd: Round, count: int, queue: str | None, run_at: str) -> None:
        ctx = rnd.extra["ctx"]
        for start in range(0, count, 200_000):
            self.sql(
                f"INSERT INTO {rnd.table} (type, plugin_config_id, team_id, payload, run_at,"
                f" queue_name) SELECT 'noop', %(config)s, 1, jsonb_build_object('n', g),"
                f" {run_at}, %(queue)s FROM generate_series(%(lo)s::int, %(hi)s::int) g",
                params={
                    "config": ctx.config_id,  # type: ignore[attr-defined]
                    "queue": queue,
                    "lo": start,
                    "hi": min(count, start + 200_000) - 1,
                },
            )

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
