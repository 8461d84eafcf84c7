"""Plugin configs in the main DB, and a short-lived cache of them for the runner."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool

from jobline.dburl import DbLimits, connect_error, unreachable_message
from jobline.errors import MainDBUnavailable
from jobline.migrator import migrate_database
from jobline.sqlfiles import load_queries

Q = load_queries("jobline.plugins.sql", "queries.sql")


@dataclass(frozen=True, slots=True)
class PluginConfig:
    id: int
    team_id: int
    plugin: str
    enabled: bool
    settings: dict[str, Any]


def _row(r: TupleRow) -> PluginConfig:
    return PluginConfig(int(r[0]), int(r[1]), str(r[2]), bool(r[3]), dict(r[4] or {}))


class MainDB:
    """Plugin configs in the main DB (storage.py and plugin_logs.py use its pool)."""

    def __init__(
        self,
        url: str,
        schema: str,
        *,
        max_size: int = 4,
        limits: DbLimits | None = None,
        direct_url: str | None = None,
    ) -> None:
        self.url = url
        #: no pooler in between: for LISTEN and other session state (dburl.connect_session)
        self.direct_url = direct_url or url
        self.schema = schema
        self.limits = limits or DbLimits()
        self._pool: AsyncConnectionPool[psycopg.AsyncConnection[TupleRow]] = AsyncConnectionPool(
            url,
            min_size=1,
            max_size=max_size,
            kwargs={
                "autocommit": True,
                **self.limits.connect_kwargs(self.limits.session_options(schema)),
            },
            timeout=self.limits.call_timeout_s,
            open=False,
            name="main-db",
        )

    async def open(self, timeout_s: float = 10.0) -> None:
        try:
            await self._pool.open(wait=True, timeout=timeout_s)
        except Exception as exc:
            await self._pool.close()
            kwargs = self._pool.kwargs if isinstance(self._pool.kwargs, dict) else {}
            cause = await connect_error(self.url, kwargs) or exc
            raise MainDBUnavailable(
                unreachable_message("the main DB", "JOBLINE_DATABASE_URL", self.url, cause)
            ) from exc

    async def close(self) -> None:
        await self._pool.close()

    @property
    def pool(self) -> AsyncConnectionPool[psycopg.AsyncConnection[TupleRow]]:
        """The shared pool, for the other main-DB modules (storage, plugin logs)."""
        return self._pool

    async def set_setup_error(self, config_id: int, error: str | None) -> None:
        async with self._pool.connection() as conn:
            await conn.execute(Q["set_setup_error"], {"id": config_id, "error": error})

    async def migrate(self) -> list[int]:
        return await migrate_database(
            self.direct_url,  # DDL and role settings: not through a pooler
            self.schema,
            "jobline.plugins.migrations",
            what="the main DB",
            variable="JOBLINE_DATABASE_URL",
            limits=self.limits,
        )

    async def _rows(self, name: str, params: dict[str, Any]) -> list[PluginConfig]:
        async with self._pool.connection() as conn:
            cur = await conn.execute(Q[name], params)
            return [_row(r) for r in await cur.fetchall()]

    async def add_config(
        self, plugin: str, team_id: int, settings: dict[str, Any], enabled: bool = True
    ) -> PluginConfig:
        rows = await self._rows(
            "add_config",
            {
                "team_id": team_id,
                "plugin": plugin,
                "enabled": enabled,
                "settings": json.dumps(settings),
            },
        )
        return rows[0]

    async def get_config(self, config_id: int) -> PluginConfig | None:
        rows = await self._rows("get_config", {"id": config_id})
        return rows[0] if rows else None

    async def get_configs(self, ids: Sequence[int]) -> dict[int, PluginConfig]:
        return {c.id: c for c in await self._rows("get_configs", {"ids": list(ids)})}

    async def list_configs(self) -> list[PluginConfig]:
        return await self._rows("list_configs", {})

    async def enabled_configs_of(self, plugin: str) -> list[PluginConfig]:
        return await self._rows("enabled_configs_of_plugin", {"plugin": plugin})

    async def set_enabled(self, config_id: int, enabled: bool) -> PluginConfig | None:
        rows = await self._rows("set_enabled", {"id": config_id, "enabled": enabled})
        return rows[0] if rows else None


class ConfigCache:
    """Plugin configs as the runner sees them: read in batches, kept until they change.

    A `ConfigWatcher` drops an entry as soon as the main DB announces a change; while no
    watcher listens, entries expire after `ttl_s`, so a change still lands within that.
    """

    def __init__(self, main_db: MainDB, ttl_s: float = 5.0) -> None:
        self._main_db = main_db
        self._ttl_s = ttl_s
        self._entries: dict[int, tuple[float, PluginConfig | None]] = {}

    async def get_many(self, ids: Sequence[int]) -> dict[int, PluginConfig | None]:
        now = time.monotonic()
        stale = sorted({i for i in ids if (e := self._entries.get(i)) is None or e[0] < now})
        if stale:
            found = await self._main_db.get_configs(stale)
            for config_id in stale:
                self._entries[config_id] = (now + self._ttl_s, found.get(config_id))
        return {i: self._entries[i][1] for i in ids}

    def forget(self, config_id: int | None = None) -> None:
        """Drop one config (or all, with None): the next read goes to the main DB."""
        if config_id is None:
            self._entries.clear()
        else:
            self._entries.pop(config_id, None)
