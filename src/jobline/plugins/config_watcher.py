"""ConfigWatcher: LISTEN for plugin config changes in the main DB; drop them from caches.

A trigger on plugin_configs notifies `<schema>.plugin_configs` with the config's id on
every insert, update and delete, whoever makes it (jobline or a plain SQL statement). A
lost LISTEN connection is re-established; meanwhile every cached config is dropped at
each reconnect attempt, since changes may have been missed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

import psycopg
from psycopg import sql

from jobline.dburl import DbLimits, connect_session
from jobline.logs import get_logger
from jobline.retry import Backoff
from jobline.service import Service, ServiceStatus

log = get_logger("jobline.plugins.config_watcher")

#: called with a changed config's id, or None when changes may have been missed
OnChange = Callable[[int | None], None]


def config_channel(schema: str) -> str:
    return f"{schema}.plugin_configs"


class ConfigWatcher(Service):
    name = "config-watcher"

    def __init__(
        self,
        direct_url: str,
        schema: str,
        listeners: Sequence[OnChange],
        limits: DbLimits | None = None,
    ) -> None:
        super().__init__()
        self._url = direct_url  # LISTEN is session state: never through a pooler
        self._limits = limits or DbLimits(connect_timeout_s=10)
        self._channel = config_channel(schema)
        self._listeners = list(listeners)
        self._listening = False
        self._last_error = ""

    async def _main(self) -> None:
        backoff = Backoff(0.2, 5.0)  # the reconnect helper every LISTEN loop shares
        while not self.stopping:
            try:
                if await self._listen_until_stopped():
                    return
            except (psycopg.Error, OSError) as exc:
                self._last_error = str(exc).strip()
            if self._listening:
                backoff.reset()  # it had worked: start over from the short delay
            delay = backoff.next()
            log.warning("plugins.config_listen_lost", error=self._last_error, retry_in_s=delay)
            self._listening = False
            self._announce(None)
            await self.sleep_unless_stopping(delay)

    async def _listen_until_stopped(self) -> bool:
        """True when stopped; returns False or raises when the connection was lost."""
        listen = asyncio.ensure_future(self._listen())
        stop = asyncio.ensure_future(self._stopping.wait())
        await asyncio.wait({listen, stop}, return_when=asyncio.FIRST_COMPLETED)
        if stop.done():
            listen.cancel()
            await asyncio.gather(listen, return_exceptions=True)
            return True
        stop.cancel()
        await listen  # raises the connection's error
        return False

    async def _listen(self) -> None:
        async with await connect_session(self._url, self._limits) as conn:
            await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
            self._listening = True
            self._announce(None)  # anything changed while we were not listening
            async for note in conn.notifies():
                self._announce(int(note.payload) if note.payload.isdigit() else None)

    def _announce(self, config_id: int | None) -> None:
        for listener in self._listeners:
            listener(config_id)

    def status(self) -> ServiceStatus:
        # Not listening only slows config changes down to the caches' TTL: still ready.
        if self._listening:
            return ServiceStatus(True, f"listening on {self._channel}")
        return ServiceStatus(True, f"not listening ({self._last_error}); caches expire by TTL")
