"""Every error a user of jobline can meet.

Each message says what happened, the value and the limit involved, and what to do.
"""

from __future__ import annotations


class JoblineError(Exception):
    """Base of all jobline errors."""


class ConfigError(JoblineError):
    """The configuration (JOBLINE_* variables or env files) is invalid."""


class InvalidJob(JoblineError):
    """A job (or a message on the jobs topic) does not follow the job message format."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        #: short machine-readable reason, used as the DLQ header and metric label
        self.reason = reason
        self.detail = detail


class JobTooLarge(InvalidJob):
    """A job's encoded message is over JOBLINE_MAX_MESSAGE_BYTES; it was not sent."""

    def __init__(self, size: int, limit: int, job_type: str) -> None:
        super().__init__(
            "too_large",
            f"job {job_type!r} of {size:,} bytes is over JOBLINE_MAX_MESSAGE_BYTES "
            f"({limit:,}): shrink its payload, or raise the limit together with the "
            "topic's max.message.bytes",
        )
        self.size = size
        self.limit = limit


class UsageError(JoblineError):
    """A command was given a value it cannot use (the `jobline` exit code 2)."""


class DependencyUnreachable(JoblineError):
    """Kafka, the jobs DB or the main DB did not answer (the `jobline` exit code 4)."""


class NotFound(JoblineError):
    """An id named by the user does not exist (the `jobline` exit code 5)."""


class IntakeUnavailable(DependencyUnreachable):
    """The intake (Kafka, or the jobs DB for direct intake) did not accept a job in time."""


class DatabaseUnavailable(DependencyUnreachable):
    """A PostgreSQL database could not be reached (the message names which and its URL)."""


class JobsDBUnavailable(DatabaseUnavailable):
    """The jobs DB (JOBLINE_JOBS_DATABASE_URL) could not be reached or opened."""


class MainDBUnavailable(DatabaseUnavailable):
    """The main DB (JOBLINE_DATABASE_URL, plugin configs) could not be reached or opened."""


class UnknownPluginConfig(NotFound):
    """A trigger named a plugin config that does not exist in the main DB."""

    def __init__(self, plugin_config_id: int) -> None:
        super().__init__(
            f"plugin config {plugin_config_id} does not exist in the main DB: "
            "list them with `jobline configs list`, add one with `jobline configs add`"
        )
        self.plugin_config_id = plugin_config_id


class PluginLoadError(JoblineError):
    """A plugin named in JOBLINE_PLUGINS or an entry point could not be loaded."""


class HttpPortUnavailable(JoblineError, OSError):
    """The HTTP service could not listen on JOBLINE_HTTP_HOST:JOBLINE_HTTP_PORT.

    Also an OSError, as the failure to bind it reports.
    """


class ServiceFailed(JoblineError):
    """A long-running service of `jobline serve` stopped on its own."""
