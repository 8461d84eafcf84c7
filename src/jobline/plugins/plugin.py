"""What a plugin is: a name, its jobs, and (later) scheduled tasks and event hooks."""

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
class Plugin:
    """A plugin: `Plugin(name="hello", jobs={"greet": greet})`."""

    name: str
    jobs: Mapping[str, Handler | JobDefinition] = field(default_factory=dict)
    run_every_minute: Handler | None = None
    run_every_hour: Handler | None = None
    run_every_day: Handler | None = None
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
            definitions[job_type] = definition
        # Normalized once: the runner looks a definition up on every run.
        object.__setattr__(self, "_definitions", definitions)

    def job(self, job_type: str) -> JobDefinition | None:
        definitions: dict[str, JobDefinition] = self.__dict__["_definitions"]
        return definitions.get(job_type)
