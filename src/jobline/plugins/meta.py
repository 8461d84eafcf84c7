"""What a job handler receives beside its payload.

The trigger API lives in `jobline.producer` (it speaks Kafka or SQL); this module only
describes its shape, so that importing a plugin never loads a Kafka or database client.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import structlog

from jobline.job import JobMessage


class TriggerOne(Protocol):
    """One job about to be triggered (`producer.trigger.JobTrigger`): pick when."""

    def run_now(self) -> JobMessage: ...

    def run_in(self, seconds: float = 0, minutes: float = 0, hours: float = 0) -> JobMessage: ...

    def run_at(self, when: datetime) -> JobMessage: ...

    async def run_now_async(self) -> JobMessage: ...

    async def run_in_async(
        self, seconds: float = 0, minutes: float = 0, hours: float = 0
    ) -> JobMessage: ...

    async def run_at_async(self, when: datetime) -> JobMessage: ...


class ConfigTriggers(Protocol):
    """The trigger API bound to one plugin config (`producer.trigger.ConfigJobs`).

    `meta.jobs.greet(payload)` or `meta.jobs.job("greet", payload)`, then a `run_*`.
    """

    plugin_config_id: int
    team_id: int

    def job(self, job_type: str, payload: Any = None, **options: Any) -> TriggerOne: ...

    def __getattr__(self, job_type: str) -> Any: ...


class ConfigStorage(Protocol):
    """`meta.storage` (`plugins.storage.PluginStorage`): JSON values per plugin config."""

    async def get(self, key: str, default: Any = None) -> Any: ...

    async def set(self, key: str, value: Any) -> None: ...

    async def delete(self, key: str) -> None: ...

    def get_sync(self, key: str, default: Any = None) -> Any: ...

    def set_sync(self, key: str, value: Any) -> None: ...

    def delete_sync(self, key: str) -> None: ...


class ConfigAttachments(Protocol):
    """`meta.attachments` (`plugins.attachments.PluginAttachments`): files of the config."""

    async def get(self, name: str) -> Any: ...

    async def names(self) -> list[str]: ...


class PluginLog(Protocol):
    """`meta.logger` (`plugins.plugin_logs.PluginLogger`): structlog-style calls."""

    def debug(self, message: str, **fields: Any) -> Any: ...

    def info(self, message: str, **fields: Any) -> Any: ...

    def warning(self, message: str, **fields: Any) -> Any: ...

    def error(self, message: str, **fields: Any) -> Any: ...


# slots, not frozen: built once per run, and a frozen dataclass pays per field to build.
@dataclass(slots=True)
class JobMeta:
    #: the plugin config's settings
    config: dict[str, Any]
    team_id: int
    plugin_config_id: int
    #: trigger API bound to this plugin config: `meta.jobs.greet(p).run_in(seconds=5)`
    jobs: ConfigTriggers
    job_id: int
    job_type: str
    #: 1 for the first run, 2 for the first retry, ...
    attempt: int
    #: structlog-style calls; from a server, entries are also kept per config (`jobline logs`)
    logger: structlog.typing.FilteringBoundLogger | PluginLog
    #: the config's key-value store in the main DB (None outside a server)
    storage: ConfigStorage | None = None
    #: files attached to the config (`jobline configs attach`); None outside a server
    attachments: ConfigAttachments | None = None
    #: per-config object that the plugin's setup fills (`global` is a Python keyword)
    global_: dict[str, Any] = field(default_factory=dict)
