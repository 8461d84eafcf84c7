"""meta.logger: plugin log entries, in the process's log and in the main DB per config.

Handlers log as with structlog (`meta.logger.info("synced", rows=12)`); each entry is
also queued for `PluginLogWriter`, which writes them in batches and prunes old ones, so
an operator can read what one plugin config did (`jobline logs --config ID`). A full
queue drops the oldest entries (counted): logging never blocks or fails a job.
"""

from __future__ import annotations

import collections
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog

from jobline.logs import get_logger
from jobline.metrics import PLUGIN_LOGS_DROPPED
from jobline.plugins.configs import MainDB, Q
from jobline.service import Service, ServiceStatus

log = get_logger("jobline.plugins.logs")

_MESSAGE_LIMIT = 4000


@dataclass(frozen=True, slots=True)
class PluginLogEntry:
    plugin_config_id: int
    level: str
    message: str
    fields: dict[str, Any]
    job_id: int | None
    job_type: str | None
    logged_at: datetime


class PluginLogBuffer:
    """Entries waiting for the writer; bounded, the oldest go first when it is full."""

    def __init__(self, limit: int = 10_000) -> None:
        self._entries: collections.deque[PluginLogEntry] = collections.deque()
        self._limit = limit

    def add(self, entry: PluginLogEntry) -> None:
        if len(self._entries) >= self._limit:
            self._entries.popleft()
            PLUGIN_LOGS_DROPPED.inc()
        self._entries.append(entry)

    def take(self, n: int) -> list[PluginLogEntry]:
        return [self._entries.popleft() for _ in range(min(n, len(self._entries)))]

    def __len__(self) -> int:
        return len(self._entries)


class PluginLogger:
    """What a handler gets as `meta.logger`: structlog's calls, kept per plugin config."""

    def __init__(
        self,
        buffer: PluginLogBuffer,
        plugin_config_id: int,
        job_id: int | None = None,
        job_type: str | None = None,
    ) -> None:
        self._buffer = buffer
        self._ids = (plugin_config_id, job_id, job_type)
        # Bound at the first entry: most jobs log nothing, and a bind per job costs.
        self._bound: structlog.typing.FilteringBoundLogger | None = None

    def debug(self, message: str, **fields: Any) -> None:
        self._emit("debug", message, fields)

    def info(self, message: str, **fields: Any) -> None:
        self._emit("info", message, fields)

    def warning(self, message: str, **fields: Any) -> None:
        self._emit("warning", message, fields)

    def error(self, message: str, **fields: Any) -> None:
        self._emit("error", message, fields)

    def _emit(self, level: str, message: str, fields: dict[str, Any]) -> None:
        config_id, job_id, job_type = self._ids
        if self._bound is None:
            self._bound = get_logger("plugin").bind(
                plugin_config_id=config_id, job_id=job_id, job_type=job_type
            )
        getattr(self._bound, level)(message, **fields)
        entry = PluginLogEntry(
            config_id,
            level,
            str(message)[:_MESSAGE_LIMIT],
            fields,
            job_id,
            job_type,
            datetime.now(UTC),
        )
        self._buffer.add(entry)


class PluginLogWriter(Service):
    """Writes buffered plugin log entries every `interval_s`; prunes old ones hourly."""

    name = "plugin-logs"

    def __init__(
        self,
        main_db: MainDB,
        buffer: PluginLogBuffer,
        *,
        retention_days: int,
        interval_s: float = 0.5,
    ) -> None:
        super().__init__()
        self._db = main_db
        self._buffer = buffer
        self._retention_days = retention_days
        self._interval_s = interval_s
        self._pruned_at = 0.0
        self._last_error: str | None = None

    async def _main(self) -> None:
        while not self.stopping:
            await self._flush_safely()
            await self.sleep_unless_stopping(self._interval_s)

    async def _close(self, grace_s: float) -> None:
        await self._flush_safely()  # what handlers logged while the runner drained

    async def _flush_safely(self) -> None:
        try:
            while len(self._buffer):
                await self._write(self._buffer.take(1000))
            await self._prune()
            self._last_error = None
        except Exception as exc:  # plugin logs are best effort: never a reason to stop
            self._last_error = str(exc).strip()
            log.warning("plugins.logs_write_failed", error=self._last_error)

    async def _write(self, entries: list[PluginLogEntry]) -> None:
        params = {
            "config_ids": [e.plugin_config_id for e in entries],
            "levels": [e.level for e in entries],
            "messages": [e.message.replace("\x00", "") for e in entries],
            "fields": [json.dumps(e.fields, default=str).replace("\\u0000", "") for e in entries],
            "job_ids": [e.job_id for e in entries],
            "job_types": [e.job_type for e in entries],
            "logged_ats": [e.logged_at for e in entries],
        }
        async with self._db.pool.connection() as conn:
            await conn.execute(Q["insert_plugin_logs"], params)

    async def _prune(self) -> None:
        if time.monotonic() - self._pruned_at < 3600:
            return
        async with self._db.pool.connection() as conn:
            await conn.execute(Q["prune_plugin_logs"], {"days": self._retention_days})
        self._pruned_at = time.monotonic()

    def status(self) -> ServiceStatus:
        # Losing plugin logs is not losing jobs: never makes the process unready.
        return ServiceStatus(True, self._last_error or f"{len(self._buffer)} entries queued")


@dataclass(frozen=True, slots=True)
class StoredLogEntry:
    id: int
    level: str
    message: str
    fields: dict[str, Any]
    job_id: int | None
    job_type: str | None
    logged_at: datetime


async def read_plugin_logs(
    main_db: MainDB, plugin_config_id: int, *, after_id: int | None, limit: int
) -> list[StoredLogEntry]:
    """The last `limit` entries (after_id None), or those after `after_id`, oldest first."""
    name = "plugin_logs_tail" if after_id is None else "plugin_logs_after"
    params = {"config_id": plugin_config_id, "after_id": after_id, "limit": limit}
    async with main_db.pool.connection() as conn:
        cur = await conn.execute(Q[name], params)
        rows = await cur.fetchall()
    return [
        StoredLogEntry(int(r[0]), str(r[1]), str(r[2]), dict(r[3] or {}), r[4], r[5], r[6])
        for r in rows
    ]
