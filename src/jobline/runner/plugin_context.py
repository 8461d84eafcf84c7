"""Everything a plugin's code gets from the server, per plugin config: built in one place.

The runner asks `prepare(plugin, config)` before a job (setup first, if needed) and
`job_meta(...)` for the handler's `meta`: settings, trigger API, storage, global,
logger. Setup and teardown get a `ConfigMeta` with the same parts, minus the job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from jobline.plugins.attachments import PluginAttachments
from jobline.plugins.configs import MainDB, PluginConfig
from jobline.plugins.lifecycle import PluginLifecycle, SetupPolicy
from jobline.plugins.meta import JobMeta
from jobline.plugins.plugin import Plugin
from jobline.plugins.plugin_logs import PluginLogBuffer, PluginLogger
from jobline.plugins.storage import PluginStorage
from jobline.producer.base import JobProducer
from jobline.producer.trigger import ConfigJobs


@dataclass(slots=True)
class ConfigMeta:
    """What `setup(meta)` and `teardown(meta)` receive."""

    config: dict[str, Any]
    team_id: int
    plugin_config_id: int
    jobs: ConfigJobs
    storage: PluginStorage
    attachments: PluginAttachments
    logger: PluginLogger
    #: per-config object that setup fills and every job of the config sees
    global_: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class JobIdentity:
    id: int
    type: str
    plugin_config_id: int
    team_id: int
    attempt: int


#: configs whose meta parts are kept; past it the cache starts again (the parts hold no state)
_PARTS_KEPT = 10_000


@dataclass(frozen=True, slots=True)
class _ConfigParts:
    jobs: ConfigJobs
    storage: PluginStorage
    attachments: PluginAttachments


class PluginContext:
    def __init__(
        self,
        main_db: MainDB,
        producer: JobProducer,
        log_buffer: PluginLogBuffer,
        setup_policy: SetupPolicy,
    ) -> None:
        self._main_db = main_db
        self._producer = producer
        self._log_buffer = log_buffer
        self.lifecycle = PluginLifecycle(main_db, self._config_meta, setup_policy)
        # The config-scoped parts of a job's meta, made once per config, not once per job.
        self._parts: dict[int, _ConfigParts] = {}

    async def prepare(self, plugin: Plugin, config: PluginConfig) -> str | None:
        """Set the config up if needed; a returned error means: postpone its jobs."""
        if plugin.setup is None and plugin.teardown is None:
            return None
        return (await self.lifecycle.prepare(plugin, config)).error

    def job_meta(self, job: JobIdentity, config: PluginConfig) -> JobMeta:
        parts = self._parts_of(job.plugin_config_id, job.team_id)
        return JobMeta(
            config=config.settings,
            team_id=job.team_id,
            plugin_config_id=job.plugin_config_id,
            jobs=parts.jobs,
            job_id=job.id,
            job_type=job.type,
            attempt=job.attempt,
            logger=PluginLogger(self._log_buffer, job.plugin_config_id, job.id, job.type),
            storage=parts.storage,
            attachments=parts.attachments,
            global_=self.lifecycle.global_of(job.plugin_config_id),
        )

    def _parts_of(self, config_id: int, team_id: int) -> _ConfigParts:
        parts = self._parts.get(config_id)
        if parts is None or parts.jobs.team_id != team_id:
            if len(self._parts) >= _PARTS_KEPT:
                self._parts.clear()  # stateless parts: rebuilt on demand
            parts = self._parts[config_id] = _ConfigParts(
                ConfigJobs(self._producer, config_id, team_id),
                PluginStorage(self._main_db, config_id),
                PluginAttachments(self._main_db, config_id),
            )
        return parts

    def _config_meta(
        self, plugin: Plugin, config: PluginConfig, global_: dict[str, Any]
    ) -> ConfigMeta:
        return ConfigMeta(
            config=config.settings,
            team_id=config.team_id,
            plugin_config_id=config.id,
            jobs=ConfigJobs(self._producer, config.id, config.team_id),
            storage=PluginStorage(self._main_db, config.id),
            attachments=PluginAttachments(self._main_db, config.id),
            logger=PluginLogger(self._log_buffer, config.id),
            global_=global_,
        )
