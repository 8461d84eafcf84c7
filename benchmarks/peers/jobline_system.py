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
