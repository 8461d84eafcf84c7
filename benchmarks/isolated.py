"""One isolated run: its own schema, Kafka topics, intake group and plugin config.

Everything a run creates is removed when it ends.
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from confluent_kafka.admin import AdminClient

from benchmarks.environment import PARTITIONS, PLUGIN_SPEC
from jobline import JobMessage
from jobline.config import Settings, load_settings
from jobline.plugins.configs import MainDB
from jobline.store import JobsDB
from tests.devenv import create_topics, free_port

BENCH_KAFKA_LOG = logging.getLogger("bench.kafka")


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
        create_topics(admin, {ctx.jobs_topic: PARTITIONS, ctx.dlq_topic: PARTITIONS})

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
