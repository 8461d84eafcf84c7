"""What a job handler receives beside its payload."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog

from jobline.producer.trigger import ConfigJobs

if TYPE_CHECKING:
    from jobline.plugins.plugin_logs import PluginLogger
    from jobline.plugins.storage import PluginStorage


# slots, not frozen: built once per run, and a frozen dataclass pays per field to build.
@dataclass(slots=True)
class JobMeta:
    #: the plugin config's settings
    config: dict[str, Any]
    team_id: int
    plugin_config_id: int
    #: trigger API bound to this plugin config: `meta.jobs.greet(p).run_in(seconds=5)`
    jobs: ConfigJobs
    job_id: int
    job_type: str
    #: 1 for the first run, 2 for the first retry, ...
    attempt: int
    #: structlog-style calls; from a server, entries are also kept per config (`jobline logs`)
    logger: structlog.typing.FilteringBoundLogger | PluginLogger
    #: the config's key-value store in the main DB (None outside a server)
    storage: PluginStorage | None = None
    #: per-config object that the plugin's setup fills (`global` is a Python keyword)
    global_: dict[str, Any] = field(default_factory=dict)
