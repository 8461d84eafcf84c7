"""meta.storage: a plugin config's own key-value store of JSON values, in the main DB.

Async handlers await `get`/`set`/`delete`; sync handlers (run in threads) call the
`*_sync` twins, which run the same query on the server's event loop.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from typing import Any, TypeVar

from jobline.plugins.configs import MainDB, Q

T = TypeVar("T")

# A plugin's storage call must not hang a sync handler's thread for ever.
_SYNC_TIMEOUT_S = 30.0


class PluginStorage:
    def __init__(self, main_db: MainDB, plugin_config_id: int) -> None:
        self._db = main_db
        self._config_id = plugin_config_id
        self._loop = asyncio.get_running_loop()

    async def get(self, key: str, default: Any = None) -> Any:
        async with self._db.pool.connection() as conn:
            cur = await conn.execute(Q["storage_get"], {"config_id": self._config_id, "key": key})
            row = await cur.fetchone()
        return row[0] if row else default

    async def set(self, key: str, value: Any) -> None:
        params = {"config_id": self._config_id, "key": key, "value": json.dumps(value)}
        async with self._db.pool.connection() as conn:
            await conn.execute(Q["storage_set"], params)

    async def delete(self, key: str) -> None:
        async with self._db.pool.connection() as conn:
            await conn.execute(Q["storage_delete"], {"config_id": self._config_id, "key": key})

    def get_sync(self, key: str, default: Any = None) -> Any:
        return self._on_loop(self.get(key, default))

    def set_sync(self, key: str, value: Any) -> None:
        self._on_loop(self.set(key, value))

    def delete_sync(self, key: str) -> None:
        self._on_loop(self.delete(key))

    def _on_loop(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(_SYNC_TIMEOUT_S)
