"""The connection layer of the jobs DB: pools, limits, open/close, migrations, LISTEN.

Intake writes, runner operations and inspection (the modules beside this one) are built
on it; JobsDB (jobs_db.py) composes them. SQL lives in sql/queries.sql. Every call runs
under the connection's server-side timeouts and the client-side deadline `call_timeout_s`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool

from jobline.dburl import DbLimits, connect_error, connect_session, unreachable_message
from jobline.errors import IntakeUnavailable
from jobline.migrator import migrate_database
from jobline.sqlfiles import load_queries

Q = load_queries("jobline.store.sql", "queries.sql")

Pool = AsyncConnectionPool[psycopg.AsyncConnection[TupleRow]]

# The fetch's connections: no sort or bitmap plans (see fetch_due in sql/queries.sql), and
# a plan made for each execution (a cached generic plan is not held to the above). The
# fetch's commit waits for the WAL flush like every other write: a lock that a PostgreSQL
# crash could undo would let a second runner fetch a job the first one already runs, and
# with a local queue of hundreds of jobs per fetch the flush costs little per job.
FETCH_CONNECTION_OPTIONS = (
    " -c enable_sort=off -c enable_bitmapscan=off -c plan_cache_mode=force_custom_plan"
)


def notify_channel(schema: str) -> str:
    return f"{schema}.jobs"


class JobsDBConnection:
    """A pool of connections to the jobs DB, every statement in the project's schema."""

    def __init__(
        self,
        url: str,
        schema: str,
        *,
        min_size: int = 1,
        max_size: int = 10,
        limits: DbLimits | None = None,
        direct_url: str | None = None,
    ) -> None:
        self.url = url
        #: no pooler in between: for LISTEN and other session state (dburl.connect_session)
        self.direct_url = direct_url or url
        self.schema = schema
        self.channel = notify_channel(schema)
        self.limits = limits or DbLimits()
        self.call_timeout_s = self.limits.call_timeout_s
        options = self.limits.session_options(schema)
        self._pool = self._new_pool("jobs-db", options, min_size, max_size)
        # The fetch runs on its own connections, whose planner may not sort or bitmap-scan:
        # the due index, walked in order, is then the only cheap plan, whatever the
        # statistics (never analyzed, or analyzed while the table was empty).
        self._fetch_pool = self._new_pool("jobs-db-fetch", options + FETCH_CONNECTION_OPTIONS, 1, 2)
        self._options = options
        #: the heartbeat's own connection (runner_ops.py): outside the pools' reconnect backoff
        self._beat_conn: psycopg.AsyncConnection[TupleRow] | None = None

    def _new_pool(self, name: str, options: str, min_size: int, max_size: int) -> Pool:
        return AsyncConnectionPool(
            self.url,
            min_size=min_size,
            max_size=max_size,
            kwargs={"autocommit": True, **self.limits.connect_kwargs(options)},
            # Waiting for a free connection has the same deadline as a call.
            timeout=self.call_timeout_s,
            open=False,
            name=name,
        )

    async def open(self, timeout_s: float = 10.0) -> None:
        try:
            await self._pool.open(wait=True, timeout=timeout_s)
            await self._fetch_pool.open(wait=True, timeout=timeout_s)
        except Exception as exc:
            await self._pool.close()
            await self._fetch_pool.close()
            kwargs = self._pool.kwargs if isinstance(self._pool.kwargs, dict) else {}
            cause = await connect_error(self.url, kwargs) or exc
            raise IntakeUnavailable(
                unreachable_message("the jobs DB", "JOBLINE_JOBS_DATABASE_URL", self.url, cause)
            ) from exc

    async def close(self) -> None:
        await self._drop_beat_connection()
        await self._fetch_pool.close()
        await self._pool.close()

    async def _beat_connection(self) -> psycopg.AsyncConnection[TupleRow]:
        if self._beat_conn is None or self._beat_conn.closed:
            self._beat_conn = await psycopg.AsyncConnection.connect(
                self.url, autocommit=True, **self.limits.connect_kwargs(self._options)
            )
        return self._beat_conn

    async def _drop_beat_connection(self) -> None:
        conn, self._beat_conn = self._beat_conn, None
        if conn is not None:
            with contextlib.suppress(psycopg.Error):
                await conn.close()

    @property
    def pool(self) -> Pool:
        """The shared pool, for the store's other modules (ticks.py)."""
        return self._pool

    async def migrate(self) -> list[int]:
        return await migrate_database(
            self.direct_url,  # DDL and role settings: not through a pooler
            self.schema,
            "jobline.store.migrations",
            what="the jobs DB",
            variable="JOBLINE_JOBS_DATABASE_URL",
            limits=self.limits,
        )

    def connection(self) -> AbstractAsyncContextManager[psycopg.AsyncConnection[TupleRow]]:
        """A pooled connection (autocommit, the project's schema) for store/admin.py."""
        return self._pool.connection()

    @contextlib.asynccontextmanager
    async def fetch_connection(self) -> AsyncIterator[psycopg.AsyncConnection[TupleRow]]:
        """A connection with the fetch's planner and commit settings
        (FETCH_CONNECTION_OPTIONS), for the fetch and for its EXPLAIN alike: the options of
        the fetch pool's connections, or, behind a pooler (no per-connection options),
        settings for the block's own transaction only."""
        async with self._fetch_pool.connection() as conn:
            if self.limits.schema_from == "options":
                yield conn
                return
            async with conn.transaction():
                await conn.execute(Q["fetch_settings"])
                yield conn

    async def _execute(self, name: str, params: Mapping[str, Any]) -> int:
        async with asyncio.timeout(self.call_timeout_s), self._pool.connection() as conn:
            cur = await conn.execute(Q[name], params)
            return cur.rowcount

    async def _fetchall(self, name: str, params: Mapping[str, Any]) -> list[TupleRow]:
        async with asyncio.timeout(self.call_timeout_s), self._pool.connection() as conn:
            cur = await conn.execute(Q[name], params)
            return await cur.fetchall()

    async def _rows(self, name: str, params: Mapping[str, Any]) -> list[TupleRow]:
        """Like _fetchall, for a statement that may return no rows at all (no RETURNING)."""
        async with asyncio.timeout(self.call_timeout_s), self._pool.connection() as conn:
            cur = await conn.execute(Q[name], params)
            return await cur.fetchall() if cur.description else []

    async def listen_connection(self) -> psycopg.AsyncConnection[TupleRow]:
        """A connection of its own for LISTEN (on the direct URL), under the pools' limits."""
        conn = await asyncio.wait_for(
            connect_session(self.direct_url, self.limits), timeout=self.call_timeout_s
        )
        await conn.execute(self.listen_statement())
        return conn

    def listen_statement(self) -> sql.Composed:
        return sql.SQL("LISTEN {}").format(sql.Identifier(self.channel))
