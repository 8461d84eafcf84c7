"""The trigger API, for plugin code (`meta.jobs`) and any Python caller (`Jobs`).

    jobs = Jobs.from_env()
    jobs.for_config(7, team_id=2).greet({"name": "Ada"}).run_in(minutes=5)

Every `run_*` returns once the intake holds the job durably (Kafka acknowledged it, or
the jobs DB committed it). Each has an `_async` twin for async code.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from jobline.config import Settings, load_settings
from jobline.job import JobMessage, KeyMode
from jobline.producer.base import JobProducer
from jobline.producer.factory import build_producer


@dataclass(frozen=True)
class JobTrigger:
    """One job about to be triggered; pick when with a `run_*` method."""

    producer: JobProducer
    plugin_config_id: int
    team_id: int
    type: str
    payload: Any
    key: str | None = None
    key_mode: KeyMode = KeyMode.REPLACE
    queue: str | None = None
    priority: int = 0
    max_attempts: int | None = None

    def with_options(
        self,
        *,
        key: str | None = None,
        key_mode: KeyMode | str | None = None,
        queue: str | None = None,
        priority: int | None = None,
        max_attempts: int | None = None,
    ) -> JobTrigger:
        return replace(
            self,
            key=key if key is not None else self.key,
            key_mode=KeyMode(key_mode) if key_mode is not None else self.key_mode,
            queue=queue if queue is not None else self.queue,
            priority=priority if priority is not None else self.priority,
            max_attempts=max_attempts if max_attempts is not None else self.max_attempts,
        )

    def message(self, run_at: datetime | None = None) -> JobMessage:
        return JobMessage.create(
            type=self.type,
            payload=self.payload,
            plugin_config_id=self.plugin_config_id,
            team_id=self.team_id,
            run_at=run_at,
            key=self.key,
            key_mode=self.key_mode,
            queue=self.queue,
            priority=self.priority,
            max_attempts=self.max_attempts,
        )

    def run_now(self) -> JobMessage:
        return self.run_at(datetime.now(UTC))

    def run_in(self, seconds: float = 0, minutes: float = 0, hours: float = 0) -> JobMessage:
        delay = timedelta(seconds=seconds, minutes=minutes, hours=hours)
        return self.run_at(datetime.now(UTC) + delay)

    def run_at(self, when: datetime) -> JobMessage:
        job = self.message(when)
        self.producer.send([job])
        return job

    async def run_now_async(self) -> JobMessage:
        return await self.run_at_async(datetime.now(UTC))

    async def run_in_async(
        self, seconds: float = 0, minutes: float = 0, hours: float = 0
    ) -> JobMessage:
        delay = timedelta(seconds=seconds, minutes=minutes, hours=hours)
        return await self.run_at_async(datetime.now(UTC) + delay)

    async def run_at_async(self, when: datetime) -> JobMessage:
        job = self.message(when)
        await self.producer.send_async([job])
        return job


class ConfigJobs:
    """The jobs of one plugin config: `cj.greet(payload)` or `cj.job("greet", payload)`."""

    def __init__(self, producer: JobProducer, plugin_config_id: int, team_id: int) -> None:
        self._producer = producer
        self.plugin_config_id = plugin_config_id
        self.team_id = team_id

    def job(self, job_type: str, payload: Any = None, **options: Any) -> JobTrigger:
        trigger = JobTrigger(self._producer, self.plugin_config_id, self.team_id, job_type, payload)
        return trigger.with_options(**options) if options else trigger

    def __getattr__(self, job_type: str) -> Any:
        if job_type.startswith("_"):
            raise AttributeError(job_type)

        def make(payload: Any = None, **options: Any) -> JobTrigger:
            return self.job(job_type, payload, **options)

        return make


class Jobs:
    """Trigger jobs from any Python process, through the configured intake."""

    def __init__(self, producer: JobProducer) -> None:
        self.producer = producer

    @classmethod
    def from_settings(cls, settings: Settings) -> Jobs:
        return cls(build_producer(settings))

    @classmethod
    def from_env(cls) -> Jobs:
        return cls.from_settings(load_settings())

    def for_config(self, plugin_config_id: int, *, team_id: int) -> ConfigJobs:
        return ConfigJobs(self.producer, plugin_config_id, team_id)

    def send(self, jobs: list[JobMessage]) -> None:
        """Trigger many prepared jobs at once (one round of deliveries)."""
        self.producer.send(jobs)

    async def send_async(self, jobs: list[JobMessage]) -> None:
        await self.producer.send_async(jobs)

    def close(self) -> None:
        self.producer.close()

    def __enter__(self) -> Jobs:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
