"""jobline: plugins define jobs, any process triggers them, jobs servers run them."""

from jobline.errors import (
    ConfigError,
    IntakeUnavailable,
    InvalidJob,
    JoblineError,
    JobTooLarge,
    UnknownPluginConfig,
)
from jobline.job import JobMessage, KeyMode
from jobline.plugins import JobDefinition, Plugin
from jobline.plugins.meta import JobMeta
from jobline.producer.trigger import ConfigJobs, Jobs, JobTrigger

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
    "KeyMode",
    "Plugin",
    "UnknownPluginConfig",
]
