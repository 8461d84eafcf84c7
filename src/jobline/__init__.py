"""jobline: plugins define jobs, any process triggers them, jobs servers run them.

A plugin module imports this package, so it stays light: the trigger API (which loads the
Kafka and PostgreSQL clients) is imported on first use of `Jobs`, `ConfigJobs` or
`JobTrigger`, never by `from jobline import Plugin`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from jobline.errors import (
    ConfigError,
    IntakeUnavailable,
    InvalidJob,
    JoblineError,
    JobsDBUnavailable,
    JobTooLarge,
    UnknownPluginConfig,
)
from jobline.job import JobMessage, KeyMode
from jobline.plugins import JobDefinition, Plugin
from jobline.plugins.meta import JobMeta

if TYPE_CHECKING:
    from jobline.producer.trigger import ConfigJobs, Jobs, JobTrigger

# name -> module that defines it, imported when the name is first read.
_LAZY = {
    "ConfigJobs": "jobline.producer.trigger",
    "Jobs": "jobline.producer.trigger",
    "JobTrigger": "jobline.producer.trigger",
}

__all__ = [
    "ConfigError",
    "ConfigJobs",
    "IntakeUnavailable",
    "InvalidJob",
    "JobDefinition",
    "JobMessage",
    "JobMeta",
    "JobTooLarge",
    "JobTrigger",
    "JoblineError",
    "Jobs",
    "JobsDBUnavailable",
    "KeyMode",
    "Plugin",
    "UnknownPluginConfig",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'jobline' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later reads skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
