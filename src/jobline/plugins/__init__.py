"""Plugins: their definition, discovery, configs in the main DB, and handler meta."""

from jobline.plugins.plugin import (
    CronTask,
    Handler,
    JobDefinition,
    PayloadField,
    Plugin,
    ScheduledTask,
)

__all__ = ["CronTask", "Handler", "JobDefinition", "PayloadField", "Plugin", "ScheduledTask"]
