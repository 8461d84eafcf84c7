"""What the dashboard opens once per process: the operations context (jobs DB pool, main DB)
and its reads, opened on first use so that `create_app` stays synchronous and mountable."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from contextlib import AsyncExitStack

from jobline.config import Settings
from jobline.errors import JoblineError
from jobline.logs import get_logger
from jobline.ops.context import OpsContext, ops_context
from jobline.store.dashboard_reads import DashboardReads

log = get_logger("jobline.dashboard")

#: a main DB that did not answer is asked again after this long (not on every request)
MAIN_DB_RETRY_S = 30.0


class Resources:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._stack = AsyncExitStack()
        self._ctx: OpsContext | None = None
        self._lock = asyncio.Lock()
        self._main_db_retry_at = 0.0

    async def ctx(self, actor: str) -> OpsContext:
        """The shared context, acting as `actor` (the audit log names them)."""
        async with self._lock:
            if self._ctx is None:
                self._ctx = await self._stack.enter_async_context(
                    ops_context(self.settings, actor="dashboard")
                )
            if self._ctx._main_db is None and time.monotonic() >= self._main_db_retry_at:
                self._main_db_retry_at = time.monotonic() + MAIN_DB_RETRY_S
                await self._open_main_db(self._ctx)
        return dataclasses.replace(self._ctx, actor=actor)

    async def _open_main_db(self, ctx: OpsContext) -> None:
        # Opened on the shared context now, so that the per-request copies share it; the
        # jobs DB pages keep working while the main DB is down (then each asks again).
        try:
            await ctx.main_db()
        except (JoblineError, OSError) as exc:
            log.warning("dashboard.main_db_unreachable", error=str(exc))

    async def reads(self) -> DashboardReads:
        return DashboardReads((await self.ctx("dashboard")).jobs_db)

    async def close(self) -> None:
        await self._stack.aclose()
        self._ctx = None
