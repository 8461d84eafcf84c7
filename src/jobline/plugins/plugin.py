"""What a plugin is: a name, its jobs, its scheduled tasks and (later) event hooks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jobline.plugins.meta import JobMeta

#: A job handler: `fn(payload, meta)`, sync or async. Its return value is ignored.
Handler = Callable[[Any, "JobMeta"], Any | Awaitable[Any]]


@dataclass(frozen=True)
class JobDefinition:
    """A job type with its own limits; a bare handler gets the process defaults."""

    handler: Handler
    max_attempts: int | None = None
    timeout_s: float | None = None


@dataclass(frozen=True)
class PayloadField:
    """One field of a public job's payload, as the HTTP trigger API checks it."""

    type: str  # string, number, integer, boolean, object, array
    required: bool = False

    def __post_init__(self) -> None:
        if self.type not in PAYLOAD_FIELD_TYPES:
            raise ValueError(
                f"payload field type {self.type!r} is not one of {', '.join(PAYLOAD_FIELD_TYPES)}"
            )


PAYLOAD_FIELD_TYPES = ("string", "number", "integer", "boolean", "object", "array")


#: Job types of scheduled tasks start with this; plugins' own job names cannot.
SCHEDULED_JOB_PREFIX = "@"

# As PostHog's plugin server had them: a missed minute is soon replaced by the next one, a
# day task is worth more tries.
DEFAULT_SCHEDULED_ATTEMPTS = {"minute": 1, "hour": 5, "day": 10, "cron": 1}


@dataclass(frozen=True)
class CronTask:
    """A scheduled task on a cron spec: 5 fields, or 6 with seconds last."""

    spec: str
    handler: Handler
    max_attempts: int | None = None
    timeout_s: float | None = None


@dataclass(frozen=True)
class ScheduledTask:
    """One scheduled task of a plugin, as the scheduler and the runner see it."""

    name: str
    every: str  # minute, hour, day or cron
    cron: str | None
    definition: JobDefinition

    @property
    def job_type(self) -> str:
        return SCHEDULED_JOB_PREFIX + self.name


def _scheduled(
    name: str, every: str, spec: Handler | JobDefinition, cron: str | None = None
) -> ScheduledTask:
    definition = spec if isinstance(spec, JobDefinition) else JobDefinition(spec)
    if definition.max_attempts is None:
        definition = JobDefinition(
            definition.handler, DEFAULT_SCHEDULED_ATTEMPTS[every], definition.timeout_s
        )
    return ScheduledTask(name, every, cron, definition)


def _check_cron(plugin: str, name: str, task: CronTask) -> None:
    from croniter import croniter  # only plugins with cron tasks pay for the import

    if not name.isidentifier() or name.startswith("run_every_"):
        raise ValueError(f"plugin {plugin!r}: cron task name {name!r} must be an identifier")
    if not croniter.is_valid(task.spec):
        raise ValueError(
            f"plugin {plugin!r}: cron task {name!r} has an invalid spec {task.spec!r}: use 5 "
            "fields (minute hour day month weekday) or 6 with seconds last"
        )


@dataclass(frozen=True)
class Plugin:
    """A plugin: `Plugin(name="hello", jobs={"greet": greet})`."""

    name: str
    jobs: Mapping[str, Handler | JobDefinition] = field(default_factory=dict)
    run_every_minute: Handler | JobDefinition | None = None
    run_every_hour: Handler | JobDefinition | None = None
    run_every_day: Handler | JobDefinition | None = None
    cron: Mapping[str, CronTask] = field(default_factory=dict)
    #: jobs a web app may trigger over HTTP, with their payload fields; no others may be
    public_jobs: Mapping[str, Mapping[str, PayloadField]] = field(default_factory=dict)
    setup: Callable[[Any], Any] | None = None
    teardown: Callable[[Any], Any] | None = None

    def __post_init__(self) -> None:
        if not self.name or not self.name.replace("-", "_").isidentifier():
            raise ValueError(
                f"plugin name {self.name!r} must be a non-empty identifier "
                "(letters, digits, _ or -)"
            )
        definitions: dict[str, JobDefinition] = {}
        for job_type, spec in self.jobs.items():
            definition = spec if isinstance(spec, JobDefinition) else JobDefinition(spec)
            if not callable(definition.handler):
                raise ValueError(f"plugin {self.name!r}: job {job_type!r} has no callable handler")
            if job_type.startswith(SCHEDULED_JOB_PREFIX):
                raise ValueError(
                    f"plugin {self.name!r}: job name {job_type!r} may not start with "
                    f"{SCHEDULED_JOB_PREFIX!r} (kept for scheduled tasks)"
                )
            definitions[job_type] = definition
        unknown = sorted(set(self.public_jobs) - set(definitions))
        if unknown:
            raise ValueError(f"plugin {self.name!r}: public job {unknown[0]!r} is not in its jobs")
        tasks = self._collect_scheduled()
        for task in tasks:
            definitions[task.job_type] = task.definition
        # Normalized once: the runner looks a definition up on every run.
        object.__setattr__(self, "_definitions", definitions)
        object.__setattr__(self, "_scheduled", tasks)

    def _collect_scheduled(self) -> tuple[ScheduledTask, ...]:
        tasks = [
            _scheduled(f"run_every_{every}", every, spec)
            for every, spec in (
                ("minute", self.run_every_minute),
                ("hour", self.run_every_hour),
                ("day", self.run_every_day),
            )
            if spec is not None
        ]
        for name, cron_task in self.cron.items():
            _check_cron(self.name, name, cron_task)
            definition = JobDefinition(
                cron_task.handler, cron_task.max_attempts, cron_task.timeout_s
            )
            tasks.append(_scheduled(name, "cron", definition, cron_task.spec))
        return tuple(tasks)

    @property
    def scheduled_tasks(self) -> tuple[ScheduledTask, ...]:
        """The plugin's scheduled tasks; each runs as a job of type `@<task name>`."""
        tasks: tuple[ScheduledTask, ...] = self.__dict__["_scheduled"]
        return tasks

    def job(self, job_type: str) -> JobDefinition | None:
        definitions: dict[str, JobDefinition] = self.__dict__["_definitions"]
        return definitions.get(job_type)
