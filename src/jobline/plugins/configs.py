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

from jobline.dburl import schema_options, unreachable_message
from jobline.errors import DependencyUnreachable
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
    """Plugin configs (and later plugin storage and logs) in the main DB."""

    def __init__(self, url: str, schema: str, *, max_size: int = 4) -> None:
        self.url = url
        self.schema = schema
        self._pool: AsyncConnectionPool[psycopg.AsyncConnection[TupleRow]] = AsyncConnectionPool(
            url,
            min_size=1,
            max_size=max_size,
            kwargs={"options": schema_options(schema), "autocommit": True},
            open=False,
            name="main-db",
        )

    async def open(self, timeout_s: float = 10.0) -> None:
        try:
            await self._pool.open(wait=True, timeout=timeout_s)
        except Exception as exc:
            await self._pool.close()
            raise DependencyUnreachable(
                unreachable_message("the main DB", "JOBLINE_DATABASE_URL", self.url, exc)
            ) from exc

    async def close(self) -> None:
        await self._pool.close()

    async def migrate(self) -> list[int]:
        return await migrate_database(
            self.url,
            self.schema,
            "jobline.plugins.migrations",
            what="the main DB",
            variable="JOBLINE_DATABASE_URL",
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

    async def set_enabled(self, config_id: int, enabled: bool) -> PluginConfig | None:
        rows = await self._rows("set_enabled", {"id": config_id, "enabled": enabled})
        return rows[0] if rows else None


class ConfigCache:
    """Plugin configs as the runner sees them: read in batches, kept for `ttl_s`.

    A config disabled in the main DB stops running jobs within `ttl_s`.
    """

    def __init__(self, main_db: MainDB, ttl_s: float = 10.0) -> None:
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
